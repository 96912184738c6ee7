"""The report of a training run: what a person wants to see after training."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from aekit.data.dataset import Dataset
from aekit.data.stream import head_dataset
from aekit.metrics.collapse import kl_per_dimension
from aekit.report import plots
from aekit.report.html import Section, write_report

if TYPE_CHECKING:
    from aekit.runs import Run

COLLAPSE_NATS = 0.01  # a latent dimension with less mean KL than this carries no information


def write_run_report(run: Run) -> Path:
    """Write plots to ``run.folder/plots`` and ``report.html``; returns the report path."""
    model, folder = run.model.eval(), run.folder
    shown = head_dataset(run.val if run.val is not None else run.train, 2000)
    x = shown.x.to(model.device)
    y = shown.y
    plot_dir = folder / "plots"
    sections = []

    final = [{"split": s, **{k: v for k, v in run.result.last(s).items()
                             if k not in ("split", "lr", "time", "step")}}
             for s in ("train", "val") if run.result.last(s)]
    text = (f"{model.name} on {run.train.name}: {len(run.train)} training and "
            f"{0 if run.val is None else len(run.val)} validation examples, "
            f"{run.result.epochs_run} epochs in {run.result.seconds:.1f} s"
            + (" (stopped early)" if run.result.stopped_early else "") + ".")
    sections.append(Section("Final metrics", text=text, table=final))
    sections.append(Section(
        "Loss curves", text="Per-epoch means; every term is summed over dimensions per "
        "example (nats) and averaged over examples.",
        images=[plots.loss_curves(run.result.history, plot_dir / "loss_curves.png")]))

    with torch.inference_mode():
        cond = None if not model.conditional else (y[:16].to(model.device) if y is not None
                                                   else None)
        recon = model.reconstruct(x[:16], cond).cpu()
        sections.append(Section(
            "Reconstructions", text="Originals (top) and reconstructions E[x|z] at the "
            "posterior mean or code (bottom), validation examples.",
            images=[plots.reconstruction_pairs(x[:16].cpu(), recon,
                                               plot_dir / "reconstructions.png")]))
        if model.generative and len(model.config.input_shape) == 3:
            labels = None
            if model.conditional and y is not None:
                labels = torch.arange(64) % int(y.max() + 1)
            samples = model.sample(64, None if labels is None else labels.to(model.device))
            sections.append(Section(
                "Samples from the prior", text="E[x|z] for z drawn from p(z).",
                images=[plots.image_grid(samples.cpu(), plot_dir / "samples.png", nrow=8)]))
        cond_all = y.to(model.device) if model.conditional and y is not None else None
        codes = model.embed(x, cond_all).flatten(1).cpu()
    sections.append(Section(
        "Latent map", text=f"Codes of {len(codes)} validation examples"
        + (" (first two principal components)" if codes.shape[1] > 2 else "")
        + (", coloured by label." if y is not None else "."),
        images=[plots.latent_map(codes, plot_dir / "latent_map.png",
                                 labels=None if y is None else y.numpy(),
                                 class_names=shown.class_names)]))

    if model.probabilistic:
        kl = kl_per_dimension(model, Dataset(x.cpu(), y, name=shown.name)).float()
        collapsed = int((kl < COLLAPSE_NATS).sum())
        note = (f"{collapsed} of {len(kl)} latent dimensions carry less than {COLLAPSE_NATS} "
                "nats of KL (collapsed).")
        if collapsed == len(kl):
            warnings.warn(f"posterior collapse: every latent dimension has KL < "
                          f"{COLLAPSE_NATS} nats; try kl_warmup_steps or free_bits",
                          stacklevel=2)
        sections.append(Section(
            "KL per latent dimension", text=note,
            images=[plots.bar_chart(kl.numpy(), plot_dir / "kl_per_dim.png",
                                    title="mean KL(q(z_j|x) || p(z_j))", ylabel="nats")]))
    return write_report(folder / "report.html", title=f"aekit run: {folder.name}",
                        subtitle=f"model {model.name}, data {run.train.name}",
                        sections=sections)
