"""The rate-distortion sweep: train one model per beta and place each on the
rate-distortion plane (Alemi et al. 2018), with its plot.

Training ``beta * KL`` for several beta values moves a VAE along the curve: small beta
gives high rate and low distortion. The measurement of one model is the metric
:func:`aekit.metrics.rate_distortion`; this module is the job around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from aekit.errors import ConfigError
from aekit.metrics.rate_distortion import rate_distortion
from aekit.models import create
from aekit.report.plots import line_plot
from aekit.train import TrainConfig, Trainer

__all__ = ["RDPoint", "plot_rate_distortion", "rate_distortion_sweep"]


@dataclass
class RDPoint:
    """One model on the rate-distortion plane.

    Attributes
    ----------
    beta : float
        The KL weight it was trained with.
    rate : float
        Mean KL(q(z|x) || p(z)) on the evaluation data, nats.
    distortion : float
        Mean E_q[-log p(x|z)] on the evaluation data, nats.
    """

    beta: float
    rate: float
    distortion: float

    @property
    def negative_elbo(self) -> float:
        """``rate + distortion``."""
        return self.rate + self.distortion

    def to_dict(self) -> dict[str, float]:
        """JSON-ready dict including ``negative_elbo``."""
        return {**asdict(self), "negative_elbo": self.negative_elbo}



def rate_distortion_sweep(train: Any, test: Any | None = None, *,
                          betas: Sequence[float] = (0.1, 0.3, 1.0, 3.0, 10.0),
                          model: str = "beta_vae", model_settings: dict[str, Any] | None = None,
                          train_config: Any = None, seed: int = 0) -> list[RDPoint]:
    """Train one model per beta with the same budget and measure rate and distortion.

    Parameters
    ----------
    train : Dataset or tensor
        Training data.
    test : Dataset or tensor, optional
        Evaluation data (default: ``train``).
    betas : sequence of float
        KL weights to train with (each >= 0).
    model : str
        A registered model with a ``beta`` setting (``beta_vae``, ``vae``, ...).
    model_settings : dict, optional
        Other settings of every model (``latent_dim``, ``hidden_dims``, ...).
    train_config : TrainConfig, optional
        Training settings (default: 20 epochs, no validation split, no progress bar).
    seed : int
        Seeds each model's initialisation and the evaluation samples.

    Returns
    -------
    list of RDPoint
        One point per beta, in the given order.
    """
    if not betas:
        raise ConfigError("betas must hold at least one value")
    if any(b < 0 for b in betas):
        raise ConfigError(f"betas must be >= 0, got {list(betas)}")
    cfg = train_config or TrainConfig(epochs=20, val_fraction=0.0, progress=False,
                                      checkpoint_every=0, seed=seed)
    settings = dict(model_settings or {})
    settings.pop("beta", None)
    points = []
    for beta in betas:
        torch.manual_seed(seed)
        m = create(model, data=train, beta=float(beta), **settings)
        Trainer(cfg).fit(m, train)
        m.eval()
        rate, distortion = rate_distortion(m, test if test is not None else train, seed=seed)
        points.append(RDPoint(float(beta), rate, distortion))
    return points


def plot_rate_distortion(points: Sequence[RDPoint], path: str | Path, *,
                         marked: dict[str, tuple[float, float]] | None = None,
                         title: str | None = None) -> Path:
    """Plot distortion against rate for a sweep (sorted by rate), plus marked models.

    Parameters
    ----------
    points : sequence of RDPoint
        The sweep.
    path : str or Path
        PNG to write.
    marked : dict of str to (rate, distortion), optional
        Single models to show as their own points (e.g. the evaluated run).
    title : str, optional
        Plot title; default lists the betas.
    """
    ordered = sorted(points, key=lambda p: p.rate)
    lines: dict[str, Any] = {"beta sweep": ([p.rate for p in ordered],
                                            [p.distortion for p in ordered])}
    for name, (r, d) in (marked or {}).items():
        lines[name] = ([r], [d])
    betas = ", ".join(f"{p.beta:g}" for p in ordered)
    return line_plot(None, lines, path, xlabel="rate: KL(q(z|x) || p(z)) (nats)",
                     ylabel="distortion: E_q[-log p(x|z)] (nats)",
                     title=title or f"rate-distortion (beta = {betas}, by rate)")
