"""Evaluate a trained model on data: every applicable metric, plots, and the run report.

:func:`evaluate` runs the requested metric groups, skipping (with a reason) those that do
not apply to the model or the data, and :func:`write_evaluation` stores the result as
``metrics.json`` in a run folder and adds an "Evaluation" part to its ``report.html``.
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

from aekit.errors import AekitError, ConfigError
from aekit.io import atomic_write_text
from aekit.metrics._util import as_tensor, condition, hierarchical, is_probabilistic, labels_of
from aekit.rng import private_rng

__all__ = ["GROUPS", "EvalResult", "evaluate", "parse_metrics", "write_evaluation"]

GROUPS = ("nll", "elbo", "recon", "fid", "pr", "is", "collapse", "probe", "disentanglement",
          "rd")
DEFAULT_GROUPS = ("nll", "elbo", "recon", "fid", "pr", "is", "collapse", "probe")
METRICS_FILE = "metrics.json"
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


def _has_beta(model: Any) -> bool:
    return hasattr(model.config, "beta")


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
    x = as_tensor(data)
    result = EvalResult(model.name, getattr(data, "name", "data"), len(x))
    result.details["settings"] = {"k": k, "batch_size": batch_size, "seed": seed,
                                  "groups": list(groups)}
    y = labels_of(data)
    try:
        probabilistic = is_probabilistic(model, x, y)
    except AekitError:
        probabilistic = False
    has_prior = getattr(model, "prior", None) is not None
    plot_dir = Path(plot_dir) if plot_dir is not None else None
    say = progress or (lambda _msg: None)
    fx_cache: dict[str, Any] = {}
    samples_cache: dict[str, torch.Tensor] = {}

    def need_vae(group: str) -> bool:
        if probabilistic and has_prior and not (group in ("nll", "rd") and hierarchical(model)):
            return True
        if probabilistic and has_prior:
            result.skipped[group] = (f"{model.name} has several latent layers; this metric "
                                     "needs a single latent")
            return False
        result.skipped[group] = (f"{model.name} has no Gaussian posterior and prior "
                                 "(needs a VAE-family model)")
        return False

    def get_extractor():
        if "fx" not in fx_cache:
            if extractor is not None:
                from aekit.metrics.features import as_extractor

                fx_cache["fx"] = as_extractor(extractor)
            else:
                from aekit.metrics.features import DatasetClassifier

                source = train_data if train_data is not None and labels_of(train_data) \
                    is not None else data
                fx = DatasetClassifier.fit(source, name=getattr(data, "name", "data"),
                                           seed=seed)
                result.details["feature_classifier"] = {
                    "held_out_accuracy": fx.accuracy, "trained_on": len(as_tensor(source)),
                    "classes": fx.n_classes}
                fx_cache["fx"] = fx
        return fx_cache["fx"]

    def get_samples() -> torch.Tensor:
        if "s" not in samples_cache:
            n = n_fake or len(x)
            cond = None
            if model.conditional:  # same label frequencies as the data
                g = torch.Generator().manual_seed(seed)
                cond = y[torch.randint(len(y), (n,), generator=g)]
            out = []
            with torch.inference_mode(), private_rng(seed, model.device):
                for i in range(0, n, batch_size):
                    c = None if cond is None else cond[i:i + batch_size].to(model.device)
                    out.append(model.sample(min(batch_size, n - i), c).cpu())
            samples_cache["s"] = torch.cat(out).reshape(n, *x.shape[1:])
        return samples_cache["s"]

    def can_sample(group: str) -> bool:
        if not model.generative:
            result.skipped[group] = f"{model.name} is not generative (no prior to sample)"
            return False
        if extractor is None and (y is None or y.ndim != 1 or y.is_floating_point()):
            result.skipped[group] = ("no feature extractor: the data has no class labels to "
                                     "train the FID-<data> classifier, and no Inception "
                                     "weights were given")
            return False
        if model.conditional and y is None:
            result.skipped[group] = "conditional model, but the data has no labels"
            return False
        return True

    for group in groups:
        say(f"{group} ...")
        t0 = time.perf_counter()
        if group == "nll" and need_vae(group):
            from aekit.metrics.likelihood import bits_per_dim, iwae_nll

            per = iwae_nll(model, data, k=k, batch_size=batch_size, seed=seed,
                           reduction="none")
            result.metrics["iwae_nll"] = float(per.mean())
            result.metrics["iwae_nll_stderr"] = float(per.std() / math.sqrt(len(per))) \
                if len(per) > 1 else 0.0
            result.metrics["iwae_bits_per_dim"] = bits_per_dim(
                float(per.mean()), x.shape[1:], model.likelihood)
            result.details["iwae_k"] = k
        elif group == "elbo" and need_vae(group):
            from aekit.metrics.likelihood import bits_per_dim, negative_elbo

            nelbo = negative_elbo(model, data, batch_size=batch_size, seed=seed)
            result.metrics["negative_elbo"] = nelbo
            result.metrics["elbo_bits_per_dim"] = bits_per_dim(nelbo, x.shape[1:], model.likelihood)
        elif group == "recon":
            from aekit.metrics.reconstruction import reconstruction_scores

            scores = reconstruction_scores(model, data, batch_size)
            per_feature = scores.pop("per_feature", None)
            result.metrics.update({f"recon_{k_}": v for k_, v in scores.items()})
            if per_feature is not None:
                result.details["recon_per_feature"] = per_feature
        elif group == "fid" and can_sample(group):
            from aekit.metrics.sample_quality import fid

            fr = fid(x, get_samples(), get_extractor())
            result.metrics[fr.name] = fr.value
            result.details["fid"] = {"name": fr.name, "n_real": fr.n_real, "n_fake": fr.n_fake}
        elif group == "pr" and can_sample(group):
            from aekit.metrics.sample_quality import precision_recall

            fx = get_extractor()
            pr = precision_recall(fx.features(x), fx.features(get_samples()))
            result.metrics.update(pr)
        elif group == "is" and can_sample(group):
            from aekit.metrics.sample_quality import inception_score

            fx = get_extractor()
            try:
                mean, std = inception_score(fx.probs(get_samples()))
            except ConfigError as e:
                result.skipped[group] = str(e)
            else:
                name = "IS" if fx.standard else f"IS-{fx.name}"
                result.metrics[name] = mean
                result.metrics[f"{name}_std"] = std
        elif group == "collapse" and need_vae(group):
            from aekit.metrics.collapse import collapse_report

            rep = collapse_report(model, data, batch_size=batch_size, seed=seed)
            result.metrics.update({"active_units": rep.active_units,
                                   "latent_dim": rep.latent_dim, "kl_total": rep.kl_total,
                                   "mutual_information": rep.mutual_information,
                                   "collapsed": rep.collapsed})
            result.details["collapse"] = rep.to_dict()
            if plot_dir is not None:
                from aekit.report.plots import bar_chart

                result.plots["kl_per_dim"] = bar_chart(
                    rep.kl_per_dim, plot_dir / "eval_kl_per_dim.png",
                    title="mean KL(q(z_j|x) || N(0, 1)) per latent dimension", ylabel="nats")
        elif group == "probe":
            if y is None or y.ndim != 1 or y.is_floating_point():
                result.skipped[group] = "the data has no class labels"
            elif model.conditional:
                result.skipped[group] = ("conditional model: its codes are computed from the "
                                         "labels, so probing them for the labels is circular")
            else:
                from aekit.metrics.representation import representation_scores

                train = train_data if train_data is not None and labels_of(train_data) \
                    is not None else None
                fit_on, test_on = (train, data) if train is not None else (data, None)
                result.metrics.update(representation_scores(model, fit_on, test_on, seed=seed,
                                                            batch_size=batch_size))
        elif group == "disentanglement":
            if ground_truth is None:
                result.skipped[group] = ("needs data with known factors (e.g. --data dsprites "
                                         "or dsprites:32)")
            elif model.conditional:
                result.skipped[group] = "not defined for conditional models"
            else:
                from aekit.metrics.disentanglement import (
                    disentanglement_scores,
                    model_representation,
                )

                result.metrics.update(disentanglement_scores(
                    ground_truth, model_representation(model, batch_size), seed=seed,
                    progress=progress is not None))
        elif group == "rd":
            _rate_distortion_group(model, data, train_data, result, rd_betas, rd_epochs, seed,
                                   plot_dir, need_vae)
        result.seconds[group] = time.perf_counter() - t0
    if plot_dir is not None:
        traversal = latent_traversals(model, x, plot_dir / "eval_latent_traversals.png",
                                      y=y, seed=seed)
        if traversal is not None:
            result.plots["latent_traversals"] = traversal
    return result


def _rate_distortion_group(model, data, train_data, result, betas, epochs, seed, plot_dir,
                           need_vae) -> None:
    from aekit.metrics.rate_distortion import (
        plot_rate_distortion,
        rate_distortion,
        rate_distortion_sweep,
    )
    from aekit.train import TrainConfig

    if not need_vae("rd"):
        return
    if not _has_beta(model):
        result.skipped["rd"] = f"{model.name} has no beta setting to sweep"
        return
    train = train_data if train_data is not None else data
    settings = {k: v for k, v in model.config.to_dict().items() if k != "beta"}
    cfg = TrainConfig(epochs=epochs, val_fraction=0.0, progress=False, checkpoint_every=0,
                      seed=seed)
    points = rate_distortion_sweep(train, data, betas=betas, model=model.name,
                                   model_settings=settings, train_config=cfg, seed=seed)
    own = rate_distortion(model, data, seed=seed)
    result.details["rate_distortion"] = {
        "points": [p.to_dict() for p in points], "epochs": epochs,
        "this_model": {"beta": model.config.beta, "rate": own[0], "distortion": own[1]}}
    result.metrics["rate"], result.metrics["distortion"] = own
    if plot_dir is not None:
        result.plots["rate_distortion"] = plot_rate_distortion(
            points, plot_dir / "eval_rate_distortion.png",
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

    if x.ndim != 4 or x.shape[1] not in (1, 3) or hierarchical(model):
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
        gaussian_prior = getattr(getattr(model, "prior", None), "closed_form_kl", False)
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


def add_to_report(report: str | Path, result: EvalResult) -> Path:
    """Add (or replace) the evaluation sections of an existing ``report.html``.

    The sections are rendered with :func:`aekit.report.html.write_report` and placed
    before the report's footer between two markers, so running the evaluation again
    replaces them. Without a report, a new one holding only the evaluation is written.
    """
    from aekit.report.html import write_report

    report = Path(report)
    with tempfile.TemporaryDirectory(dir=report.parent) as tmp:
        page = write_report(Path(tmp) / "eval.html", title=f"aekit evaluation: {result.model}",
                            sections=_sections(result))
        html = page.read_text(encoding="utf-8")
    if not report.is_file():
        atomic_write_text(report, html)
        return report
    body = html[html.index("</header>") + len("</header>"):html.index("<footer>")]
    block = f"{_BEGIN}\n{body}\n{_END}\n"
    old = report.read_text(encoding="utf-8")
    old = re.sub(re.escape(_BEGIN) + r".*?" + re.escape(_END) + r"\n?", "", old, flags=re.S)
    if "<footer>" in old:
        i = old.index("<footer>")
        new = old[:i] + block + old[i:]
    else:
        new = old.replace("</body>", block + "</body>")
    atomic_write_text(report, new)
    return report


def write_evaluation(run_dir: str | Path, result: EvalResult, report: bool = True) -> Path:
    """Write ``metrics.json`` into ``run_dir`` and add the evaluation to ``report.html``."""
    run_dir = Path(run_dir)
    path = run_dir / METRICS_FILE
    atomic_write_text(path, json.dumps(result.to_dict(), indent=2))
    if report:
        add_to_report(run_dir / "report.html", result)
    return path
