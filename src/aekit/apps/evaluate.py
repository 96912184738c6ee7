"""Evaluate a trained model on data: every applicable metric, plots, and the run report.

:func:`evaluate` runs the requested metric groups, skipping (with a reason) those that do
not apply to the model or the data, and :func:`write_evaluation` stores the result in an
evaluation folder (by default ``RUN-eval`` beside the run, :func:`default_eval_dir`):
``metrics.json``, ``plots/`` and a ``report.html`` that is the run's own report with an
"Evaluation" part added. Nothing is written into the run folder that is evaluated.
``aekit eval`` is the command-line face of both.

Metric groups (``metrics=`` names), and what each needs:

* ``nll``: IWAE estimate of -log p(x) with K samples, its standard error, bits/dim
  (a Gaussian q(z|x) and a prior);
* ``elbo``: negative ELBO and bits/dim (same);
* ``recon``: MSE; PSNR and SSIM for images; per-feature error for vectors (any model);
* ``fid``: Frechet distance of samples to the data, named ``FID`` (Inception weights) or
  ``FID-<data>`` (a classifier trained on the labelled data) (a generative model);
* ``pr``: precision and recall of samples, k = 3 (as ``fid``);
* ``is``: Inception Score of samples (as ``fid``);
* ``collapse``: KL per dimension, active units, I(x; z), a collapse flag (Gaussian q);
* ``probe``: linear-probe and k-NN accuracy, k-means NMI and ARI (labels);
* ``disentanglement``: BetaVAE, FactorVAE, MIG, DCI, SAP (a ground truth, e.g. dSprites);
* ``rd``: a beta sweep of new models, rate vs distortion (a model with ``beta``).

``all`` means every group except ``rd`` (which trains new models) and
``disentanglement`` (which needs data with known factors); name them to add them.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from aekit.errors import ConfigError
from aekit.io import atomic_write_text
from aekit.metrics._util import as_tensor, condition, labels_of
from aekit.rng import private_rng

__all__ = ["EVAL_FILES", "GROUPS", "EvalResult", "default_eval_dir", "evaluate",
           "parse_metrics", "write_evaluation"]

GROUPS = ("nll", "elbo", "recon", "fid", "pr", "is", "collapse", "probe", "disentanglement",
          "rd")
DEFAULT_GROUPS = ("nll", "elbo", "recon", "fid", "pr", "is", "collapse", "probe")
METRICS_FILE = "metrics.json"
EVAL_FILES = (METRICS_FILE, "report.html", "plots")  # what write_evaluation writes
_BEGIN, _END = "<!-- aekit-eval:begin -->", "<!-- aekit-eval:end -->"


def parse_metrics(spec: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``"all"`` or ``"nll,fid"`` (or a list) -> the metric groups, in :data:`GROUPS` order."""
    names = [s.strip().lower() for s in (spec.split(",") if isinstance(spec, str) else spec)]
    names = [n for n in names if n]
    chosen: set[str] = set()
    for name in names:
        if name == "all":
            chosen |= set(DEFAULT_GROUPS)
        elif name in GROUPS:
            chosen.add(name)
        else:
            raise ConfigError(f"unknown metric {name!r}; choose from all, {', '.join(GROUPS)}")
    if not chosen:
        raise ConfigError(f"no metrics named; choose from all, {', '.join(GROUPS)}")
    return tuple(g for g in GROUPS if g in chosen)


@dataclass
class EvalResult:
    """What :func:`evaluate` measured.

    Attributes
    ----------
    model : str
        Registry name of the model.
    data : str
        Name of the evaluation data.
    n_examples : int
        Examples evaluated on.
    metrics : dict of str to float
        Flat scalar results, e.g. ``{"iwae_nll": 71.2, "FID-digits": 3.1, ...}``.
    details : dict
        Per-dimension and per-feature arrays, the rate-distortion points, settings.
    skipped : dict of str to str
        Metric groups that did not apply, with the reason.
    seconds : dict of str to float
        Time spent per metric group.
    plots : dict of str to Path
        PNG files written (by :func:`write_evaluation`).
    """

    model: str
    data: str
    n_examples: int
    metrics: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    plots: dict[str, Path] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (non-finite numbers become None)."""
        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, dict):
                return {str(k): clean(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            if isinstance(v, Path):
                return str(v)
            return v

        return clean({"model": self.model, "data": self.data, "n_examples": self.n_examples,
                      "metrics": self.metrics, "details": self.details,
                      "skipped": self.skipped, "seconds": self.seconds, "plots": self.plots})


def evaluate(model: Any, data: Any, *, metrics: str | tuple[str, ...] = "all",
             train_data: Any = None, k: int = 1000, batch_size: int = 256,
             extractor: Any = None, n_fake: int | None = None, ground_truth: Any = None,
             rd_betas: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0, 10.0), rd_epochs: int = 20,
             seed: int = 0, plot_dir: str | Path | None = None,
             progress: Any = None) -> EvalResult:
    """Compute the requested metric groups of ``model`` on ``data``.

    Parameters
    ----------
    model : Autoencoder
        A trained model (put in eval mode here).
    data : Dataset
        Evaluation examples (ideally held out from training).
    metrics : str or tuple of str
        ``"all"``, or group names (see the module docstring).
    train_data : Dataset, optional
        Training examples: the probes are fitted on them (else on 70 % of ``data``), the
        FID classifier is trained on them (else on ``data``), and ``rd`` trains on them.
    k : int
        Importance samples for the IWAE NLL.
    batch_size : int
        Examples per forward pass (the IWAE pass holds ``batch_size * k`` samples in chunks).
    extractor : FeatureExtractor or nn.Module, optional
        Features for ``fid``/``pr``/``is``; default: a classifier trained on the labelled
        data, reported as ``FID-<data>``.
    n_fake : int, optional
        Number of samples for ``fid``/``pr``/``is`` (default: as many as ``data``).
    ground_truth : GroundTruth, optional
        Data with known factors (e.g. ``DSprites``) for ``disentanglement``.
    rd_betas, rd_epochs : tuple of float, int
        The beta values and training epochs of the ``rd`` sweep.
    seed : int
        Seeds every random draw.
    plot_dir : str or Path, optional
        Where to write plots (per-dim KL, latent traversals, rate-distortion).
    progress : callable, optional
        Called with a short message before each group (e.g. ``click.echo``).

    Returns
    -------
    EvalResult
    """
    groups = parse_metrics(metrics)
    model.eval()
    job = _Evaluation(model, data, train_data=train_data, k=k, batch_size=batch_size,
                      extractor=extractor, n_fake=n_fake, ground_truth=ground_truth,
                      rd_betas=tuple(rd_betas), rd_epochs=rd_epochs, seed=seed,
                      plot_dir=Path(plot_dir) if plot_dir is not None else None,
                      progress=progress is not None)
    job.result.details["settings"] = {"k": k, "batch_size": batch_size, "seed": seed,
                                      "groups": list(groups)}
    say = progress or (lambda _msg: None)
    for group in groups:
        say(f"{group} ...")
        t0 = time.perf_counter()
        getattr(job, f"group_{group}")()
        job.result.seconds[group] = time.perf_counter() - t0
    if job.plot_dir is not None:
        traversal = latent_traversals(model, job.x, job.plot_dir / "eval_latent_traversals.png",
                                      y=job.y, seed=seed)
        if traversal is not None:
            job.result.plots["latent_traversals"] = traversal
    return job.result


class _Evaluation:
    """One run of :func:`evaluate`: the settings, what is shared between metric groups
    (generated samples, the feature extractor) and one method per group, which either
    fills ``result`` or records in ``result.skipped`` why the group does not apply."""

    def __init__(self, model: Any, data: Any, *, train_data: Any, k: int, batch_size: int,
                 extractor: Any, n_fake: int | None, ground_truth: Any,
                 rd_betas: tuple[float, ...], rd_epochs: int, seed: int,
                 plot_dir: Path | None, progress: bool) -> None:
        self.model, self.data, self.train_data = model, data, train_data
        self.k, self.batch_size, self.seed, self.plot_dir = k, batch_size, seed, plot_dir
        self.extractor, self.n_fake, self.ground_truth = extractor, n_fake, ground_truth
        self.rd_betas, self.rd_epochs = rd_betas, rd_epochs
        self.progress = progress  # progress bars in the long metrics
        self.x, self.y = as_tensor(data), labels_of(data)
        self.result = EvalResult(model.name, getattr(data, "name", "data"), len(self.x))
        self._fx: Any = None
        self._samples: torch.Tensor | None = None

    # -- what a group needs ---------------------------------------------------------------
    def need_vae(self, group: str) -> bool:
        """Whether the model has a Gaussian posterior and a prior (and, for ``nll`` and
        ``rd``, a single latent layer); else the reason is recorded."""
        model = self.model
        if model.probabilistic and not (group in ("nll", "rd") and model.hierarchical):
            return True
        self.result.skipped[group] = (
            f"{model.name} has several latent layers; this metric needs a single latent"
            if model.probabilistic else
            f"{model.name} has no Gaussian posterior and prior (needs a VAE-family model)")
        return False

    def can_sample(self, group: str) -> bool:
        """Whether samples and a feature extractor are available; else the reason."""
        model, y, skipped = self.model, self.y, self.result.skipped
        if not model.generative:
            skipped[group] = f"{model.name} is not generative (no prior to sample)"
        elif self.extractor is None and (y is None or y.ndim != 1 or y.is_floating_point()):
            skipped[group] = ("no feature extractor: the data has no class labels to train "
                              "the FID-<data> classifier, and no Inception weights were given")
        elif model.conditional and y is None:
            skipped[group] = "conditional model, but the data has no labels"
        else:
            return True
        return False

    def labelled_train(self) -> Any:
        """``train_data`` when it has labels, else None."""
        if self.train_data is not None and labels_of(self.train_data) is not None:
            return self.train_data
        return None

    def features(self) -> Any:
        """The feature extractor: the given one, or a classifier trained on the labelled
        training data (else the evaluation data), once."""
        if self._fx is None:
            if self.extractor is not None:
                from aekit.metrics.features import as_extractor

                self._fx = as_extractor(self.extractor)
            else:
                from aekit.metrics.features import DatasetClassifier

                train = self.labelled_train()
                source = train if train is not None else self.data
                fx = DatasetClassifier.fit(source, name=getattr(self.data, "name", "data"),
                                           seed=self.seed)
                self.result.details["feature_classifier"] = {
                    "held_out_accuracy": fx.accuracy, "trained_on": len(as_tensor(source)),
                    "classes": fx.n_classes}
                self._fx = fx
        return self._fx

    def samples(self) -> torch.Tensor:
        """``n_fake`` samples of the model (conditional ones with the data's label
        frequencies), drawn once, seeded."""
        if self._samples is None:
            model, y, bs = self.model, self.y, self.batch_size
            n = self.n_fake or len(self.x)
            cond = None
            if model.conditional:  # same label frequencies as the data
                g = torch.Generator().manual_seed(self.seed)
                cond = y[torch.randint(len(y), (n,), generator=g)]
            out = []
            with torch.inference_mode(), private_rng(self.seed, model.device):
                for i in range(0, n, bs):
                    c = None if cond is None else cond[i:i + bs].to(model.device)
                    out.append(model.sample(min(bs, n - i), c).cpu())
            self._samples = torch.cat(out).reshape(n, *self.x.shape[1:])
        return self._samples

    # -- the groups -----------------------------------------------------------------------
    def group_nll(self) -> None:
        if not self.need_vae("nll"):
            return
        from aekit.metrics.likelihood import bits_per_dim, iwae_nll

        per = iwae_nll(self.model, self.data, k=self.k, batch_size=self.batch_size,
                       seed=self.seed, reduction="none")
        m = self.result.metrics
        m["iwae_nll"] = float(per.mean())
        m["iwae_nll_stderr"] = float(per.std() / math.sqrt(len(per))) if len(per) > 1 else 0.0
        m["iwae_bits_per_dim"] = bits_per_dim(float(per.mean()), self.x.shape[1:],
                                              self.model.likelihood)
        self.result.details["iwae_k"] = self.k

    def group_elbo(self) -> None:
        if not self.need_vae("elbo"):
            return
        from aekit.metrics.likelihood import bits_per_dim, negative_elbo

        nelbo = negative_elbo(self.model, self.data, batch_size=self.batch_size,
                              seed=self.seed)
        self.result.metrics["negative_elbo"] = nelbo
        self.result.metrics["elbo_bits_per_dim"] = bits_per_dim(nelbo, self.x.shape[1:],
                                                                self.model.likelihood)

    def group_recon(self) -> None:
        from aekit.metrics.reconstruction import reconstruction_scores

        scores = reconstruction_scores(self.model, self.data, self.batch_size)
        per_feature = scores.pop("per_feature", None)
        self.result.metrics.update({f"recon_{k}": v for k, v in scores.items()})
        if per_feature is not None:
            self.result.details["recon_per_feature"] = per_feature

    def group_fid(self) -> None:
        if not self.can_sample("fid"):
            return
        from aekit.metrics.sample_quality import fid

        fr = fid(self.x, self.samples(), self.features())
        self.result.metrics[fr.name] = fr.value
        self.result.details["fid"] = {"name": fr.name, "n_real": fr.n_real,
                                      "n_fake": fr.n_fake}

    def group_pr(self) -> None:
        if not self.can_sample("pr"):
            return
        from aekit.metrics.sample_quality import precision_recall

        fx = self.features()
        self.result.metrics.update(precision_recall(fx.features(self.x),
                                                    fx.features(self.samples())))

    def group_is(self) -> None:
        if not self.can_sample("is"):
            return
        from aekit.metrics.sample_quality import inception_score

        fx = self.features()
        try:
            mean, std = inception_score(fx.probs(self.samples()))
        except ConfigError as e:
            self.result.skipped["is"] = str(e)
            return
        name = "IS" if fx.standard else f"IS-{fx.name}"
        self.result.metrics[name] = mean
        self.result.metrics[f"{name}_std"] = std

    def group_collapse(self) -> None:
        if not self.need_vae("collapse"):
            return
        from aekit.metrics.collapse import collapse_report

        rep = collapse_report(self.model, self.data, batch_size=self.batch_size,
                              seed=self.seed)
        self.result.metrics.update({"active_units": rep.active_units,
                                    "latent_dim": rep.latent_dim, "kl_total": rep.kl_total,
                                    "mutual_information": rep.mutual_information,
                                    "collapsed": rep.collapsed})
        self.result.details["collapse"] = rep.to_dict()
        if self.plot_dir is not None:
            from aekit.report.plots import bar_chart

            self.result.plots["kl_per_dim"] = bar_chart(
                rep.kl_per_dim, self.plot_dir / "eval_kl_per_dim.png",
                title="mean KL(q(z_j|x) || N(0, 1)) per latent dimension", ylabel="nats")

    def group_probe(self) -> None:
        y = self.y
        if y is None or y.ndim != 1 or y.is_floating_point():
            self.result.skipped["probe"] = "the data has no class labels"
        elif self.model.conditional:
            self.result.skipped["probe"] = ("conditional model: its codes are computed from "
                                            "the labels, so probing them for the labels is "
                                            "circular")
        else:
            from aekit.metrics.representation import representation_scores

            train = self.labelled_train()
            fit_on, test_on = (train, self.data) if train is not None else (self.data, None)
            self.result.metrics.update(representation_scores(
                self.model, fit_on, test_on, seed=self.seed, batch_size=self.batch_size))

    def group_disentanglement(self) -> None:
        if self.ground_truth is None:
            self.result.skipped["disentanglement"] = (
                "needs data with known factors (e.g. --data dsprites or dsprites:32)")
        elif self.model.conditional:
            self.result.skipped["disentanglement"] = "not defined for conditional models"
        else:
            from aekit.metrics.disentanglement import (
                disentanglement_scores,
                model_representation,
            )

            self.result.metrics.update(disentanglement_scores(
                self.ground_truth, model_representation(self.model, self.batch_size),
                seed=self.seed, progress=self.progress))

    def group_rd(self) -> None:
        """A beta sweep of new models like this one, with this model marked on it."""
        from aekit.apps.rate_distortion import plot_rate_distortion, rate_distortion_sweep
        from aekit.metrics.rate_distortion import rate_distortion
        from aekit.train import TrainConfig

        model, result = self.model, self.result
        if not self.need_vae("rd"):
            return
        if not model.kl_weighted:
            result.skipped["rd"] = f"{model.name} has no KL weight beta to sweep"
            return
        train = self.train_data if self.train_data is not None else self.data
        settings = {k: v for k, v in model.config.to_dict().items() if k != "beta"}
        cfg = TrainConfig(epochs=self.rd_epochs, val_fraction=0.0, progress=False,
                          checkpoint_every=0, seed=self.seed)
        points = rate_distortion_sweep(train, self.data, betas=self.rd_betas,
                                       model=model.name, model_settings=settings,
                                       train_config=cfg, seed=self.seed)
        own = rate_distortion(model, self.data, seed=self.seed)
        result.details["rate_distortion"] = {
            "points": [p.to_dict() for p in points], "epochs": self.rd_epochs,
            "this_model": {"beta": model.config.beta, "rate": own[0], "distortion": own[1]}}
        result.metrics["rate"], result.metrics["distortion"] = own
        if self.plot_dir is not None:
            result.plots["rate_distortion"] = plot_rate_distortion(
                points, self.plot_dir / "eval_rate_distortion.png",
                marked={f"this model (beta={model.config.beta:g})": own})


def latent_traversals(model: Any, x: torch.Tensor, path: str | Path, *,
                      y: torch.Tensor | None = None, n_dims: int = 8, steps: int = 9,
                      seed: int = 0) -> Path | None:
    """Decode one code with each of the most active dimensions swept; None if not applicable.

    Rows are the ``n_dims`` dimensions whose codes vary most over ``x``; each row moves
    that dimension from -3 to +3 (for a model with a standard normal prior) or over
    mean +- 3 standard deviations of the codes (otherwise), the others fixed at the code
    of the first example. Only image models with flat codes and a single latent layer get
    this plot.
    """
    from aekit.report.plots import image_grid

    if x.ndim != 4 or x.shape[1] not in (1, 3) or model.hierarchical:
        return None
    cond = condition(model, y, "latent traversals") if model.conditional else None
    with torch.inference_mode():
        xs = x[:1000].to(model.device)
        c = None if cond is None else cond[:1000].to(model.device)
        codes = model.embed(xs, c)
        if codes.ndim != 2:
            return None
        var = codes.var(0)
        dims = torch.argsort(var, descending=True)[:min(n_dims, codes.shape[1])]
        base = codes[0]
        t = torch.linspace(-3, 3, steps, device=codes.device)
        gaussian_prior = model.probabilistic and model.prior.closed_form_kl
        rows = []
        for d in dims:
            z = base.repeat(steps, 1)
            z[:, d] = t if gaussian_prior else codes[:, d].mean() + t * var[d].sqrt()
            cc = None if c is None else c[:1].expand(steps)
            rows.append(model.likelihood.mean(model.decode_logits(z, cc)).cpu())
    grid = torch.cat(rows)
    return image_grid(grid, path, nrow=steps,
                      title=f"latent traversals: dims {', '.join(str(int(d)) for d in dims)} "
                            "(rows), -3 .. +3" + (" sd" if not gaussian_prior else ""))


def _sections(result: EvalResult) -> list:
    from aekit.report.html import Section

    rows = [{"metric": k, "value": v} for k, v in result.metrics.items()]
    text = (f"{result.model} evaluated on {result.data} ({result.n_examples} examples) by "
            "aekit eval. Likelihoods are in nats per example; FID-<data> uses a classifier "
            "trained on the data and is not comparable with published FIDs.")
    if result.skipped:
        text += "\n\nSkipped: " + "; ".join(f"{k}: {v}" for k, v in result.skipped.items())
    sections = [Section("Evaluation: metrics", text=text, table=rows)]
    titles = {"kl_per_dim": ("Evaluation: KL per latent dimension",
                             "Mean KL(q(z_j|x) || N(0, 1)) over the evaluation data."),
              "latent_traversals": ("Evaluation: latent traversals",
                                    "Each row decodes one code with one dimension swept."),
              "rate_distortion": ("Evaluation: rate-distortion",
                                  "Models trained with different beta, same budget.")}
    for key, path in result.plots.items():
        title, caption = titles.get(key, (f"Evaluation: {key}", None))
        sections.append(Section(title, text=caption, images=[path]))
    return sections


def add_to_report(report: str | Path, result: EvalResult,
                  base: str | Path | None = None) -> Path:
    """Write ``report``: the page ``base`` (a run's ``report.html``, only read) with the
    evaluation sections added, or the evaluation alone when ``base`` is None.

    The sections are rendered with :func:`aekit.report.html.write_report` and placed
    before the page's footer between two markers; an evaluation part ``base`` already
    has is replaced, not repeated.
    """
    from aekit.report.html import write_report

    report = Path(report)
    report.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=report.parent) as tmp:
        page = write_report(Path(tmp) / "eval.html", title=f"aekit evaluation: {result.model}",
                            sections=_sections(result))
        html = page.read_text(encoding="utf-8")
    if base is None:
        atomic_write_text(report, html)
        return report
    body = html[html.index("</header>") + len("</header>"):html.index("<footer>")]
    block = f"{_BEGIN}\n{body}\n{_END}\n"
    old = Path(base).read_text(encoding="utf-8")
    old = re.sub(re.escape(_BEGIN) + r".*?" + re.escape(_END) + r"\n?", "", old, flags=re.S)
    if "<footer>" in old:
        i = old.index("<footer>")
        new = old[:i] + block + old[i:]
    else:
        new = old.replace("</body>", block + "</body>")
    atomic_write_text(report, new)
    return report


def default_eval_dir(run_dir: str | Path) -> Path:
    """Where ``aekit eval RUN`` writes without ``--out``: ``RUN-eval`` beside the run
    folder (never inside it)."""
    run_dir = Path(run_dir)
    if not run_dir.name or run_dir.name == "..":
        run_dir = run_dir.resolve()
    return run_dir.with_name(f"{run_dir.name}-eval")


def write_evaluation(out_dir: str | Path, result: EvalResult, report: bool = True,
                     run_dir: str | Path | None = None) -> Path:
    """Write ``metrics.json`` into ``out_dir`` and, with ``report``, ``out_dir/report.html``:
    the run's own ``report.html`` (from ``run_dir``, which is only read) with the
    evaluation added, or the evaluation alone when the run has no report. Returns the
    path of ``metrics.json``. Plots go to ``out_dir/plots`` through :func:`evaluate`'s
    ``plot_dir``. Which folder may be written (never the run's, never over files without
    ``--force``) is the caller's check (:func:`aekit.outputs.check_output`).
    """
    out_dir = Path(out_dir)
    path = out_dir / METRICS_FILE
    atomic_write_text(path, json.dumps(result.to_dict(), indent=2))
    if report:
        base = None if run_dir is None else Path(run_dir) / "report.html"
        add_to_report(out_dir / "report.html", result,
                      base=base if base is not None and base.is_file() else None)
    return path
