"""Train several models with the same budget and rank them on the same held-out data.

:func:`compare` splits the data once (seeded), trains every model with identical
training settings (epochs, batch size, learning rate, seed) and shared architecture
settings (``arch``, ``hidden_dims``, ``latent_dim``), and measures each on the test part:

* ``recon_mse``: mean squared error of ``model.reconstruct`` (per value);
* ``nll``: IWAE estimate of -log p(x) with ``k`` samples, nats (VAE family with a single
  latent layer), and ``bits_per_dim``: the same in bits per variable, ``nll / (D ln 2)``;
* ``neg_elbo``: negative ELBO, nats (VAE family only).

The likelihood columns are filled only where the model's likelihood is a normalised
``-log p(x)`` of the test data (:meth:`aekit.likelihoods.Likelihood.normalised_on`): a
Bernoulli decoder on grey levels is a cross-entropy, not a likelihood, so for such data
``binarize="fixed"`` binarises every value once, ``x_b ~ Bernoulli(x)`` with the seed
(the fixed stochastic binarisation of Salakhutdinov & Murray 2008), and every model
trains and is scored on the binary data;
* ``FID-<data>``: Frechet distance between the features of ``n`` samples and the test
  examples, features from one classifier trained on the training part (generative
  models; with Inception weights it is ``FID``);
* ``probe_acc``: linear-probe accuracy, fitted on training codes, scored on test codes
  (labelled data; not for conditional models, whose codes are computed from the labels);
* ``active_units``: latent dimensions with ``Cov_x(E_q[z_j]) > 0.01`` (VAE family);
* ``train_s``: wall-clock training time; ``params``: number of trainable parameters.

:func:`write_leaderboard` writes ``leaderboard.md``, ``leaderboard.csv`` and a
self-contained ``leaderboard.html`` with a sample grid (or reconstructions) per model.

With ``peers=("pythae",)`` and pythae installed (the ``bench`` extra), every model that
pythae also implements (``ae``, ``vae``, ``beta_vae``, ``iwae``, ``wae``) is trained a
second time with pythae's implementation, the same MLP architecture, data, epochs, batch
size and learning rate, and evaluated by the same aekit metric code through an adapter.
"""

from __future__ import annotations

import csv
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from aekit.data.dataset import Dataset
from aekit.errors import ConfigError, DataError
from aekit.latents import DiagonalGaussian
from aekit.likelihoods import make_likelihood
from aekit.metrics._util import embed, hierarchical, is_probabilistic
from aekit.nn import MLP
from aekit.priors import StandardNormal
from aekit.rng import private_rng

__all__ = ["COLUMNS", "PYTHAE_MODELS", "Entry", "Leaderboard", "compare", "write_leaderboard"]

COLUMNS = ("model", "library", "objective", "recon_mse", "nll", "bits_per_dim", "neg_elbo",
           "fid",
           "probe_acc", "active_units", "train_s", "params")
PYTHAE_MODELS = {"ae": "AE", "vae": "VAE", "beta_vae": "BetaVAE", "iwae": "IWAE",
                 "wae": "WAE_MMD"}


@dataclass
class Entry:
    """One trained model's row of the leaderboard.

    Attributes
    ----------
    name : str
        Display name (``vae``, ``pythae:VAE``).
    library : str
        ``aekit`` or ``pythae``.
    objective : str
        What it was trained on (likelihood and regulariser).
    scores : dict
        Column name -> value (None where a metric does not apply).
    image : Path or None
        Sample grid (generative models) or reconstructions.
    """

    name: str
    library: str
    objective: str
    scores: dict[str, Any] = field(default_factory=dict)
    image: Path | None = None


@dataclass
class Leaderboard:
    """The result of :func:`compare`: rows plus the settings they share."""

    entries: list[Entry]
    settings: dict[str, Any]
    fid_name: str | None = None

    def rows(self) -> list[dict[str, Any]]:
        """One dict per entry with the :data:`COLUMNS` (``fid`` renamed to its metric name)."""
        out = []
        for e in self.entries:
            row = {"model": e.name, "library": e.library, "objective": e.objective}
            for col in COLUMNS[3:]:
                key = self.fid_name if col == "fid" and self.fid_name else col
                row[key] = e.scores.get(col)
            out.append(row)
        return out


def _param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _objective(model: Any) -> str:
    parts = [model.config.likelihood]
    for key in ("beta", "lam"):  # the regulariser weight, when the model has one
        value = getattr(model.config, key, None)
        if isinstance(value, (int, float)):
            parts.append(f"{key}={value:g}")
    return f"{model.name}: " + ", ".join(parts)


def _evaluate(model: Any, train: Dataset, test: Dataset, *, k: int, extractor: Any,
              n_samples: int, image_path: Path, seed: int) -> tuple[dict[str, Any], Path]:
    """The leaderboard scores of one trained model (aekit or adapted peer)."""
    from aekit.metrics.collapse import activity
    from aekit.metrics.likelihood import bits_per_dim, iwae_nll, negative_elbo
    from aekit.metrics.reconstruction import reconstructions
    from aekit.metrics.representation import linear_probe_accuracy
    from aekit.metrics.sample_quality import fid
    from aekit.report.plots import image_grid, reconstruction_pairs

    model.eval()
    scores: dict[str, Any] = {}
    x = test.x
    x_hat = reconstructions(model, test)
    scores["recon_mse"] = float((x_hat - x).square().mean())
    vae = getattr(model, "prior", None) is not None and is_probabilistic(model, x, test.y)
    if vae:
        if model.likelihood.normalised_on(x):  # else not a likelihood: left empty
            if not hierarchical(model):  # the IWAE estimate needs a single latent layer
                scores["nll"] = iwae_nll(model, test, k=k, seed=seed)
                scores["bits_per_dim"] = bits_per_dim(scores["nll"], x.shape[1:],
                                                      model.likelihood)
            scores["neg_elbo"] = negative_elbo(model, test, seed=seed)
        scores["active_units"] = int((activity(model, test) > 0.01).sum())
    images = x.ndim == 4 or math.isqrt(x[0].numel()) ** 2 == x[0].numel()
    if model.generative:
        with torch.inference_mode(), private_rng(seed, model.device):
            cond = None
            if model.conditional:  # labels drawn with the test set's frequencies
                cond = test.y[torch.randint(len(test.y), (n_samples,))].to(model.device)
            samples = model.sample(n_samples, cond).cpu().reshape(n_samples, *x.shape[1:])
        if extractor is not None:
            scores["fid"] = fid(x, samples, extractor).value
        if images:
            side = math.isqrt(x[0].numel())
            grid = samples[:64] if x.ndim == 4 else samples[:64].reshape(-1, 1, side, side)
            image_grid(grid, image_path, nrow=8, title=f"{model.name}: samples")
    if train.y is not None and test.y is not None and not model.conditional:
        scores["probe_acc"] = linear_probe_accuracy(
            embed(model, train.x, train.y), train.y, test_codes=embed(model, x, test.y),
            test_labels=test.y,
            seed=seed)
    if not model.generative or not images:
        reconstruction_pairs(x[:16], x_hat[:16], image_path)
    return scores, image_path


def binarized(data: Dataset, seed: int) -> Dataset:
    """``data`` with every value replaced once by a draw ``x_b ~ Bernoulli(x)`` (fixed
    stochastic binarisation, seeded); labels and names are kept."""
    import dataclasses

    x = data.x
    if x.numel() and (float(x.min()) < 0 or float(x.max()) > 1):
        raise DataError(f"{data.name}: binarisation needs values in [0, 1], got "
                        f"[{float(x.min()):.3g}, {float(x.max()):.3g}]")
    gen = torch.Generator().manual_seed(seed)
    xb = torch.bernoulli(x.float(), generator=gen).to(x.dtype)
    return dataclasses.replace(data, x=xb, meta={**data.meta, "binarized": "fixed"})


def compare(models: Sequence[str], data: Dataset, *, epochs: int = 30, batch_size: int = 64,
            lr: float = 1e-3, latent_dim: int = 8, hidden_dims: Sequence[int] = (256, 128),
            arch: str = "mlp", test_fraction: float = 0.2, k: int = 100, seed: int = 0,
            model_settings: dict[str, dict[str, Any]] | None = None,
            peers: Sequence[str] = (), extractor: Any = None, out_dir: str | Path,
            progress: Callable[[str], None] | None = None,
            binarize: str | None = None) -> Leaderboard:
    """Train each model with the same budget and score it on the same test split.

    Parameters
    ----------
    models : sequence of str
        Registry names (``aekit models`` lists them).
    data : Dataset
        The data; labels enable the probe and the ``FID-<data>`` classifier.
    epochs, batch_size, lr : int, int, float
        The shared training budget.
    latent_dim, hidden_dims, arch : int, tuple of int, str
        The shared architecture settings (MLP widths, encoder order).
    test_fraction : float
        Held-out share of the data for every score.
    k : int
        Importance samples for the NLL.
    seed : int
        Seeds the split, every model's initialisation and every sample.
    model_settings : dict of str to dict, optional
        Extra settings per model, e.g. ``{"beta_vae": {"beta": 4}}``.
    peers : sequence of str
        ``("pythae",)`` adds pythae's implementations of the shared models.
    extractor : FeatureExtractor, optional
        Features for FID (default: a classifier trained on the training split).
    out_dir : str or Path
        Where sample grids are written (and, by :func:`write_leaderboard`, the tables).
    progress : callable, optional
        Called with a short message per step.
    binarize : {None, "fixed"}
        ``"fixed"``: replace every value (in [0, 1]) once by ``x_b ~ Bernoulli(x)``
        (seeded), so that Bernoulli likelihoods are true likelihoods of the data.

    Returns
    -------
    Leaderboard
    """
    from aekit.metrics.features import DatasetClassifier, as_extractor
    from aekit.models import create, get_class
    from aekit.train import TrainConfig, Trainer

    if not models:
        raise ConfigError("name at least one model to compare")
    for name in models:
        get_class(name)  # unknown names fail before any training
    unknown_peers = sorted(set(peers) - {"pythae"})
    if unknown_peers:
        raise ConfigError(f"unknown peer library {unknown_peers}; the supported peer is pythae")
    say = progress or (lambda _m: None)
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    if binarize not in (None, "fixed"):
        raise ConfigError(f"binarize={binarize!r} is not one of None, 'fixed'")
    if binarize == "fixed":
        data = binarized(data, seed)
    train, test = data.split(test_fraction, seed=seed)
    fx = None
    if extractor is not None:
        fx = as_extractor(extractor)
    elif train.y is not None and train.y.ndim == 1 and not train.y.is_floating_point():
        say("training the FID feature classifier ...")
        fx = DatasetClassifier.fit(train, name=data.name, seed=seed)
    shared = {"latent_dim": latent_dim, "hidden_dims": tuple(hidden_dims), "arch": arch}
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, val_fraction=0.0,
                      progress=False, checkpoint_every=0)
    settings = {"data": data.name, "train": len(train), "test": len(test), "epochs": epochs,
                "batch_size": batch_size, "lr": lr, "seed": seed, "k": k, **shared,
                "binarize": binarize,
                "torch_threads": torch.get_num_threads()}
    if isinstance(fx, DatasetClassifier):
        settings["fid_classifier_accuracy"] = fx.accuracy
    n_samples = len(test)
    entries = []
    for name in models:
        say(f"training {name} ({epochs} epochs) ...")
        own = (model_settings or {}).get(name, {})
        # the shared settings; else only the code size (linear_ae fixes hidden_dims=());
        # else the model's own (kl_ae derives its code size from its latent map)
        for attempt, common in enumerate((shared, {"latent_dim": latent_dim}, {})):
            torch.manual_seed(seed)
            try:
                model = create(name, data=train, **{**common, **own})
                break
            except ConfigError as e:
                if attempt == 2:
                    raise
                say(f"  {name}: {e}; trying with fewer shared settings")
        note = "" if attempt == 0 else " (own architecture)"
        t0 = time.perf_counter()
        Trainer(cfg).fit(model, train)
        seconds = time.perf_counter() - t0
        scores, image = _evaluate(model, train, test, k=k, extractor=fx, n_samples=n_samples,
                                  image_path=out_dir / "images" / f"{name}.png", seed=seed)
        scores.update(train_s=seconds, params=_param_count(model))
        entries.append(Entry(name, "aekit", _objective(model) + note, scores, image))
        if "pythae" in peers and name in PYTHAE_MODELS:
            say(f"training pythae's {PYTHAE_MODELS[name]} ({epochs} epochs) ...")
            peer, seconds = _train_pythae(name, model, train, epochs=epochs,
                                          batch_size=batch_size, lr=lr, seed=seed)
            scores, image = _evaluate(peer, train, test, k=k, extractor=fx,
                                      n_samples=n_samples,
                                      image_path=out_dir / "images" / f"pythae_{name}.png",
                                      seed=seed)
            scores.update(train_s=seconds, params=_param_count(peer))
            entries.append(Entry(f"pythae:{PYTHAE_MODELS[name]}", "pythae", peer.objective,
                                 scores, image))
    return Leaderboard(entries, settings, fx.metric_name if fx is not None else None)


# --------------------------------------------------------------------------- pythae


class PythaeAdapter(nn.Module):
    """A trained pythae model behind the aekit model protocol, for aekit's metrics.

    The encoder and decoder networks are the MLPs the pythae model was built with, so
    ``encode``/``decode_logits`` call them directly; ``likelihood`` is the aekit density
    matching pythae's reconstruction loss (BCE -> Bernoulli, MSE -> unit Gaussian) and
    ``prior`` is N(0, I).
    """

    conditional = False

    def __init__(self, name: str, peer: nn.Module, encoder: nn.Module, decoder: nn.Module, *,
                 probabilistic: bool, generative: bool, likelihood: str,
                 input_shape: tuple[int, ...], latent_dim: int, objective: str) -> None:
        super().__init__()
        self.name, self.peer, self.encoder, self.decoder = name, peer, encoder, decoder
        self.probabilistic, self.generative, self.objective = probabilistic, generative, \
            objective
        self.likelihood = make_likelihood(likelihood, input_shape)
        self.prior = StandardNormal(latent_dim) if probabilistic else None
        self._sampling_prior = StandardNormal(latent_dim)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None):
        out = self.encoder(x)
        return DiagonalGaussian.from_params(out) if self.probabilistic else out

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z)

    def embed(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        code = self.encode(x)
        return code.mean if isinstance(code, DiagonalGaussian) else code

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.likelihood.mean(self.decode_logits(self.embed(x)))

    def sample(self, n: int, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.likelihood.mean(self.decode_logits(self._sampling_prior.sample(n)))


def _train_pythae(name: str, ours: Any, train: Dataset, *, epochs: int, batch_size: int,
                  lr: float, seed: int) -> tuple[PythaeAdapter, float]:
    """Build pythae's version of ``ours`` with the same MLPs, train it, wrap it."""
    try:
        import pythae.models as pm
        from pythae.models.base.base_utils import ModelOutput
        from pythae.models.nn import BaseDecoder, BaseEncoder
        from pythae.pipelines import TrainingPipeline
        from pythae.trainers import BaseTrainerConfig
    except ImportError:
        raise ConfigError("peers=pythae needs pythae: pip install 'aekit[bench]' (or "
                          "pip install pythae)") from None
    c = ours.config
    shape, latent = tuple(c.input_shape), c.latent_dim
    d = math.prod(shape)
    probabilistic = name in ("vae", "beta_vae", "iwae")
    bce = c.likelihood == "bernoulli" and name not in ("ae", "wae")  # pythae AE/WAE: MSE only
    if c.arch != "mlp":
        raise ConfigError("the pythae comparison uses MLPs: pass arch='mlp'")

    torch.manual_seed(seed)
    enc_net = MLP(d, c.hidden_dims, 2 * latent if probabilistic else latent, act=c.activation)
    dec_net = MLP(latent, tuple(reversed(c.hidden_dims)), d, act=c.activation, out_shape=shape)

    class Encoder(BaseEncoder):
        def __init__(self) -> None:
            super().__init__()
            self.net = enc_net

        def forward(self, x):
            out = self.net(x)
            if probabilistic:
                mu, logvar = out.chunk(2, dim=-1)
                return ModelOutput(embedding=mu, log_covariance=logvar)
            return ModelOutput(embedding=out)

    class Decoder(BaseDecoder):
        def __init__(self) -> None:
            super().__init__()
            self.net = dec_net

        def forward(self, z):
            out = self.net(z)
            return ModelOutput(reconstruction=torch.sigmoid(out) if bce else out)

    cls_name = PYTHAE_MODELS[name]
    model_cls = getattr(pm, cls_name)
    config_cls = getattr(pm, f"{cls_name}_Config" if cls_name == "WAE_MMD" else
                         f"{cls_name}Config")
    kwargs: dict[str, Any] = {"input_dim": shape, "latent_dim": latent}
    if probabilistic:  # pythae's AE and WAE_MMD have no choice of reconstruction loss
        kwargs["reconstruction_loss"] = "bce" if bce else "mse"
    if name == "beta_vae":
        kwargs["beta"] = float(c.beta)
    if name == "iwae":
        kwargs["number_samples"] = int(getattr(c, "k", getattr(c, "n_samples", 5)))
    if name == "wae":
        if c.penalty != "mmd":
            raise ConfigError("the pythae comparison of wae needs penalty='mmd' (WAE_MMD)")
        kwargs.update(kernel_choice=c.kernel, reg_weight=float(c.lam), kernel_bandwidth=1.0,
                      scales=[float(v) for v in c.kernel_scales])
    peer = model_cls(config_cls(**kwargs), encoder=Encoder(), decoder=Decoder())
    with tempfile.TemporaryDirectory() as out:
        tcfg = BaseTrainerConfig(output_dir=out, num_epochs=epochs, learning_rate=lr,
                                 per_device_train_batch_size=batch_size,
                                 per_device_eval_batch_size=batch_size, no_cuda=True,
                                 steps_saving=None, seed=seed)
        pipeline = TrainingPipeline(model=peer, training_config=tcfg)
        t0 = time.perf_counter()
        pipeline(train_data=train.x.numpy(), eval_data=None)
        seconds = time.perf_counter() - t0
    likelihood = "bernoulli" if bce else "gaussian"
    objective = f"pythae {cls_name}: {'BCE' if bce else 'MSE'}"
    if name == "beta_vae":
        objective += f", beta={c.beta:g}"
    if name == "wae":
        objective += f", MMD {c.kernel} x {c.lam:g}"
    adapter = PythaeAdapter(f"pythae:{cls_name}", peer, enc_net, dec_net,
                            probabilistic=probabilistic, generative=name != "ae",
                            likelihood=likelihood, input_shape=shape, latent_dim=latent,
                            objective=objective)
    return adapter.eval(), seconds


# --------------------------------------------------------------------------- output


def _fmt(value: Any) -> str:
    from aekit.report.html import format_value

    return format_value(value)


def write_leaderboard(board: Leaderboard, out_dir: str | Path) -> dict[str, Path]:
    """Write ``leaderboard.md``, ``leaderboard.csv`` and ``leaderboard.html`` to ``out_dir``.

    Returns
    -------
    dict
        ``{"md": ..., "csv": ..., "html": ...}`` paths.
    """
    from aekit.io import atomic_write_text
    from aekit.report.html import Section, write_report

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = board.rows()
    if not rows:
        raise DataError("the leaderboard has no entries")
    cols = list(rows[0])
    s = board.settings
    summary = (f"Data {s['data']}: {s['train']} training / {s['test']} test examples (seed "
               f"{s['seed']}). Every model: {s['epochs']} epochs, batch {s['batch_size']}, lr "
               f"{s['lr']:g}, arch {s['arch']}, hidden {tuple(s['hidden_dims'])}, latent "
               f"{s['latent_dim']}. nll: -log p(x) of a test example, IWAE estimate with "
               f"K={s['k']}, in nats; bits_per_dim: nll / (D ln 2); neg_elbo in nats; "
               "recon_mse per value; train_s wall-clock seconds.")
    if s.get("binarize") == "fixed":
        summary += (" Data binarised once (every value x_b ~ Bernoulli(grey level), seed "
                    f"{s['seed']}): models train and are scored on binary data, so the "
                    "Bernoulli likelihoods are true likelihoods.")
    summary += (" Likelihood columns are empty where the likelihood is not normalised on "
                "the data (Bernoulli on grey levels) or does not apply.")
    if board.fid_name and board.fid_name != "FID":
        acc = s.get("fid_classifier_accuracy", float("nan"))
        summary += (f" {board.fid_name}: features of a classifier trained on the training "
                    f"split (held-out accuracy {acc:.3f}); not comparable with published FID "
                    "values.")
    md = ["# aekit leaderboard", "", summary, "",
          "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    md += ["| " + " | ".join(_fmt(r[c]) for c in cols) + " |" for r in rows]
    paths = {"md": out_dir / "leaderboard.md", "csv": out_dir / "leaderboard.csv"}
    atomic_write_text(paths["md"], "\n".join(md) + "\n")
    with open(paths["csv"], "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=cols)
        writer.writeheader()
        writer.writerows([{c: "" if r[c] is None else r[c] for c in cols} for r in rows])
    sections = [Section("Leaderboard", text=summary, table=rows)]
    for e in board.entries:
        if e.image is not None and Path(e.image).is_file():
            sections.append(Section(e.name, text=e.objective, images=[e.image]))
    paths["html"] = write_report(out_dir / "leaderboard.html", title="aekit leaderboard",
                                 subtitle=f"{len(rows)} models on {s['data']}",
                                 sections=sections)
    return paths
