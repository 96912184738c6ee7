"""What the MOSES benchmark scripts share: reading the MOSES CSVs, the molecule VAE's
command-line settings, and the latent-space measurements made after training.

Used by bench_moses.py (CPU), gpu_moses.py (GPU), bench_moses_tune.py (the CPU sweep of
training settings) and moses_baselines.py (the NGram baseline's reference run).
"""

from __future__ import annotations

import argparse
import gzip
import lzma
from pathlib import Path
from typing import Any

PAPER = {  # Polykovskiy et al. 2020 (MOSES paper), Table 2 rows the issue cites
    "VAE": {"valid": 0.977, "unique@10k": 0.998, "novelty": 0.695, "FCD/Test": 0.099},
    "JTN-VAE": {"valid": 1.000, "novelty": 0.914},
    "NGram": {"valid": 0.238, "unique@10k": 0.922, "novelty": 0.969, "FCD/Test": 5.507},
    "Combinatorial": {"valid": 1.000, "unique@10k": 0.991, "novelty": 0.988,
                      "FCD/Test": 4.238},
}
"""Rows of the MOSES paper quoted beside measured numbers (never measured here)."""


def read_column(path: str | Path, limit: int | None = None) -> list[str]:
    """The first column of a MOSES CSV (header skipped), plain, ``.gz`` or ``.xz``, as
    written: MOSES strings are already RDKit-canonical."""
    path = Path(path)
    opener = {".gz": gzip.open, ".xz": lzma.open}.get(path.suffix, open)
    out: list[str] = []
    with opener(path, "rt") as f:
        next(f)
        for line in f:
            if line.strip():
                out.append(line.split(",")[0].strip())
                if limit is not None and len(out) >= limit:
                    break
    return out


def add_vae_args(ap: argparse.ArgumentParser, **defaults: Any) -> None:
    """The molecule VAE's settings as options; ``defaults`` override the estimator's own
    defaults for one script (e.g. ``hidden_size=512`` on a GPU)."""
    from aekit.apps.molecules import MoleculeVAE

    base = MoleculeVAE().get_params()
    for name, kind in (("tokenizer", str), ("latent_dim", int), ("hidden_size", int),
                       ("embed_dim", int), ("decoder_layers", int), ("free_bits", float),
                       ("word_dropout", float), ("kl_warmup_steps", int), ("beta", float),
                       ("epochs", int), ("batch_size", int), ("learning_rate", float)):
        ap.add_argument("--" + name.replace("_", "-"), type=kind,
                        default=defaults.get(name, base[name]))
    ap.add_argument("--max-minutes", type=float, default=defaults.get("max_minutes"),
                    help="training wall-time budget")
    ap.add_argument("--device", default=defaults.get("device", "cpu"))


def make_estimator(args: argparse.Namespace, **extra: Any) -> Any:
    """The MoleculeVAE the options of :func:`add_vae_args` describe."""
    from aekit.apps.molecules import MoleculeVAE

    names = set(MoleculeVAE().get_params())
    settings = {k: v for k, v in vars(args).items() if k in names}
    return MoleculeVAE(**{**settings, **extra})


def latent_work(est: Any, train: list[str], heldout: list[str],
                property_samples: tuple[int, ...] = (500,), budget: int = 1000,
                n_recon: int = 1000) -> dict[str, Any]:
    """Held-out and training reconstruction (exact canonical match), an interpolation
    between two held-out molecules, and QED optimisation (``budget`` RDKit evaluations)
    starting from each size of ``property_samples`` training molecules."""
    out: dict[str, Any] = {
        "reconstruction_heldout": est.reconstruction_accuracy(heldout[:n_recon]),
        "reconstruction_train": est.reconstruction_accuracy(train[:n_recon])}
    ends = [s for s in heldout if est.tokenizer_.fits(s)][:2]
    out["interpolation"] = est.interpolate(ends[0], ends[1], steps=8)
    out["optimization"] = {n: est.optimize(train[:n], "qed", budget=budget)
                           for n in property_samples}
    return out


def add_eval_args(ap: argparse.ArgumentParser) -> None:
    """Where the MOSES files are and how large the measured sets are: every CPU script
    measures its samples on the same sets with the same sizes."""
    ap.add_argument("--data-dir", default="/work/cache/moses",
                    help="folder with MOSES train.csv.gz, test.csv.gz, test_scaffolds.csv.gz")
    ap.add_argument("--samples", type=int, default=10000, help="molecules generated")
    ap.add_argument("--reference-size", type=int, default=10000,
                    help="molecules of MOSES test / test_scaffolds used as the reference")
    ap.add_argument("--fcd-size", type=int, default=1000,
                    help="generated and reference molecules ChemNet reads for FCD")


def evaluate(gen: list[str], args: argparse.Namespace) -> tuple[dict[str, float], str]:
    """The MOSES metrics of ``gen`` (:func:`aekit.metrics.moses.moses_metrics`): novelty
    against all of MOSES train, the rest against the first ``--reference-size`` test and
    test-scaffold molecules, FCD on ``--fcd-size`` of each. Returns the metrics and a
    sentence saying what they were measured against."""
    from aekit.metrics.moses import moses_metrics

    data = Path(args.data_dir)
    test = read_column(data / "test.csv.gz", limit=args.reference_size)
    test_sf = read_column(data / "test_scaffolds.csv.gz", limit=args.reference_size)
    train = set(read_column(data / "train.csv.gz"))
    metrics = moses_metrics(gen, train=train, test=test, test_scaffolds=test_sf,
                            fcd_size=args.fcd_size, progress=print)
    where = (f"{len(gen)} samples. Reference for SNN/Frag/Scaf: first {len(test)} molecules "
             f"of MOSES test / {len(test_sf)} of test_scaffolds; FCD: first {args.fcd_size} "
             f"valid samples against the first {args.fcd_size} reference molecules (a "
             f"small-n FCD is biased upwards: compare rows measured at the same size, not "
             f"with the paper's 30k-sample FCD); novelty against all {len(train)} MOSES "
             "train molecules.")
    return metrics, where


def metric_rows(metrics: dict[str, float]) -> list[str]:
    """A markdown table of metric values."""
    return ["| metric | value |", "|---|---|",
            *[f"| {k} | {v:.4f} |" for k, v in metrics.items()]]


def latent_lines(work: dict[str, Any]) -> list[str]:
    """Markdown lines for what :func:`latent_work` measured."""
    lines = [f"Reconstruction (exact canonical match of the greedy decoding of the posterior "
             f"mean): held-out test {work['reconstruction_heldout']:.4f}, train "
             f"{work['reconstruction_train']:.4f}.", ""]
    for n, o in work["optimization"].items():
        lines.append(f"QED optimisation (starting from {n} training molecules): best "
                     f"{o.best:.4f} after {o.evaluations} evaluations (first at "
                     f"{o.evaluations_to_best}); best of the starting sample "
                     f"{o.train_best:.4f}, beaten at evaluation "
                     f"{o.evaluations_to_beat or 'never'}; head R^2 {o.head_r2:.3f}; top: "
                     + ", ".join(f"`{m}` {v:.3f}" for m, v in o.top[:3]))
    lines += ["", "Interpolation (held-out test molecule 1 -> 2): "
              + " -> ".join(f"`{s}`" for s in work["interpolation"])]
    return lines


def ring_shapes(smiles: list[str]) -> dict[str, float]:
    """Of the RDKit-valid molecules of ``smiles``: the share by largest ring (atoms,
    RDKit's SSSR: ``none``, ``3`` ... ``7``, ``8+``), the share with an aromatic ring,
    and the mean counts of aromatic rings and of non-aromatic C=C bonds (a kekule
    benzene the decoder failed to close or closed to the wrong atom leaves these)."""
    from rdkit.Chem import rdMolDescriptors

    from aekit.data.molecules import _quiet_rdkit
    from aekit.data.selfies_rings import largest_ring

    chem = _quiet_rdkit()
    mols = [m for m in (chem.MolFromSmiles(s) for s in smiles if s) if m is not None]
    bins = {"none": 0, **{str(k): 0 for k in range(3, 8)}, "8+": 0}
    aromatic, polyene = [], []
    for m in mols:
        n = largest_ring([chem.MolToSmiles(m)])
        bins["none" if n == 0 else "8+" if n >= 8 else str(n)] += 1
        aromatic.append(rdMolDescriptors.CalcNumAromaticRings(m))
        polyene.append(sum(b.GetBondType() == chem.BondType.DOUBLE and not b.GetIsAromatic()
                           and b.GetBeginAtom().GetSymbol() == b.GetEndAtom().GetSymbol()
                           == "C" for b in m.GetBonds()))
    count = max(len(mols), 1)
    return {**{k: v / count for k, v in bins.items()},
            "with an aromatic ring": sum(a > 0 for a in aromatic) / count,
            "aromatic rings": sum(aromatic) / count,
            "non-aromatic C=C": sum(polyene) / count}


def ring_lines(rows: dict[str, dict[str, float]]) -> list[str]:
    """A markdown table of :func:`ring_shapes`, one row per named set."""
    cols = list(next(iter(rows.values())))
    return ["| set | largest ring " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|",
            *[f"| {name} | " + " | ".join(f"{v:.3f}" for v in row.values()) + " |"
              for name, row in rows.items()]]


def paper_lines() -> list[str]:
    """The MOSES paper's rows, labelled as quoted."""
    return ["MOSES paper (quoted, not measured here; 30k samples, models fitted on all of "
            "MOSES train): "
            + "; ".join(f"{k} " + ", ".join(f"{m} {v}" for m, v in row.items())
                        for k, row in PAPER.items())]
