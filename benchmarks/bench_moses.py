"""MOSES benchmark of aekit's molecule VAE on a CPU budget.

Trains :class:`aekit.apps.molecules.MoleculeVAE` (SELFIES, autoregressive GRU decoder)
on a subset of MOSES train, then measures what the issue asks for: the MOSES metrics of
10,000 prior samples (validity, unique@1k/@10k, novelty against the whole MOSES train,
IntDiv, filters, FCD/SNN/Frag/Scaf against a subset of MOSES test and test-scaffolds),
exact-canonical reconstruction of held-out MOSES test molecules, an interpolation path,
and latent-space QED optimisation against the best QED of the property head's sample.

Get the data once (the molsets wheel carries it; nothing of its code is used)::

    pip download --no-deps molsets==0.3.1 -d /work/cache/molsets
    python -c "from aekit.data.molecules import extract_moses; \
extract_moses('/work/cache/molsets/molsets-0.3.1-py3-none-any.whl', '/work/cache/moses')"

Run::

    python benchmarks/bench_moses.py --data-dir /work/cache/moses --train-size 25000 --epochs 4

Prints a table and writes benchmarks/results/moses.md and moses.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import time
from pathlib import Path

import torch

from aekit.apps.molecules import MoleculeVAE
from aekit.data.molecules import read_smiles
from aekit.metrics.moses import moses_metrics

RESULTS = Path(__file__).resolve().parent / "results"
PAPER = {  # Polykovskiy et al. 2020 (MOSES paper), rows VAE and JTN-VAE, as the issue cites
    "VAE": {"valid": 0.977, "unique@10k": 0.998, "novelty": 0.695, "FCD/Test": 0.099},
    "JTN-VAE": {"valid": 1.000, "novelty": 0.914},
}


def raw_smiles(path: Path) -> list[str]:
    """The SMILES column of a MOSES CSV as written (MOSES strings are RDKit-canonical)."""
    with gzip.open(path, "rt") as f:
        next(f)
        return [line.split(",")[0].strip() for line in f if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default="/work/cache/moses")
    ap.add_argument("--train-size", type=int, default=25000)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--latent-dim", type=int, default=64)
    ap.add_argument("--hidden-size", type=int, default=128)
    ap.add_argument("--embed-dim", type=int, default=32)
    ap.add_argument("--free-bits", type=float, default=0.2)
    ap.add_argument("--word-dropout", type=float, default=0.25)
    ap.add_argument("--kl-warmup-steps", type=int, default=200)
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--reference-size", type=int, default=10000,
                    help="molecules of MOSES test / test_scaffolds used as the reference")
    ap.add_argument("--fcd-size", type=int, default=1000,
                    help="generated and reference molecules ChemNet reads for FCD")
    ap.add_argument("--max-minutes", type=float, default=None, help="training time budget")
    ap.add_argument("--run", default="/work/cache/i14/moses_run", help="model folder written")
    ap.add_argument("--skip-train", action="store_true",
                    help="measure the model already in --run instead of training one")
    ap.add_argument("--heldout", type=int, default=1000, help="test molecules reconstructed")
    ap.add_argument("--property-sample", type=int, default=500)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=str(RESULTS / "moses.md"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = Path(args.data_dir)

    t0 = time.perf_counter()
    train = read_smiles(data / "train.csv.gz", limit=args.train_size)
    test = read_smiles(data / "test.csv.gz", limit=args.reference_size)
    test_sf = read_smiles(data / "test_scaffolds.csv.gz", limit=args.reference_size)
    all_train = set(raw_smiles(data / "train.csv.gz"))
    print(f"read data in {time.perf_counter() - t0:.0f} s: {train.summary()}; "
          f"{len(all_train)} train molecules for novelty")

    est = MoleculeVAE(latent_dim=args.latent_dim, hidden_size=args.hidden_size,
                      embed_dim=args.embed_dim, free_bits=args.free_bits,
                      word_dropout=args.word_dropout, kl_warmup_steps=args.kl_warmup_steps,
                      epochs=args.epochs, batch_size=args.batch_size, device=args.device,
                      max_minutes=args.max_minutes, verbose=True)
    t0 = time.perf_counter()
    if args.skip_train:
        est = MoleculeVAE.load(args.run, device=args.device)
        rows = [json.loads(line) for line in (Path(args.run) / "metrics.jsonl").open()]
        est.history_ = [r for r in rows if r.get("split") == "train"]
        train_s = sum(r["time"] for r in est.history_)  # the epochs' own wall times
    else:
        est.fit(train.smiles, run_dir=args.run)
        train_s = time.perf_counter() - t0
    epochs_run = est.history_[-1]["epoch"]
    print(f"trained in {train_s:.0f} s; last epoch {est.history_[-1]}")

    t0 = time.perf_counter()
    gen = est.sample(args.samples, seed=1)
    sample_s = time.perf_counter() - t0
    heldout = test.smiles[:args.heldout]
    recon = est.reconstruction_accuracy(heldout)
    recon_train = est.reconstruction_accuracy(train.smiles[:args.heldout])
    print(f"sampled {len(gen)} in {sample_s:.0f} s; reconstruction held-out {recon:.3f}, "
          f"train {recon_train:.3f}")
    t0 = time.perf_counter()
    metrics = moses_metrics(gen, train=all_train, test=test.smiles,
                            test_scaffolds=test_sf.smiles, fcd_size=args.fcd_size,
                            progress=print)
    metrics_s = time.perf_counter() - t0
    ends = [s for s in heldout if est.tokenizer_.fits(s)][:2]
    path = est.interpolate(ends[0], ends[1], steps=8)
    t0 = time.perf_counter()
    opt = est.optimize(train.smiles[:args.property_sample], "qed", steps=30, starts=20)
    opt_s = time.perf_counter() - t0

    rows = [f"| {k} | {v:.4f} |" for k, v in metrics.items()]
    md = [
        "# MOSES benchmark (CPU)", "",
        f"Command: `python benchmarks/bench_moses.py --train-size {args.train_size} "
        f"--epochs {args.epochs} --max-minutes {args.max_minutes}` (other settings at their "
        "defaults)", "",
        f"Hardware: {platform.processor() or platform.machine()}, shared 2-core machine, "
        f"torch threads {args.threads}; training wall time {train_s:.0f} s on "
        f"{len(train.smiles)} MOSES train molecules x {epochs_run} epochs.", "",
        "| metric | value |", "|---|---|", *rows,
        f"| reconstruction (held-out test, n={len(heldout)}) | {recon:.4f} |",
        f"| reconstruction (train, n={args.heldout}) | {recon_train:.4f} |", "",
        f"Reference for SNN/Frag/Scaf: first {len(test.smiles)} molecules of MOSES "
        f"test / {len(test_sf.smiles)} of test_scaffolds; FCD: first {args.fcd_size} "
        f"valid samples against the first {args.fcd_size} reference molecules (a small-n "
        "FCD is biased upwards; the GPU script measures it at full size); novelty against all "
        f"{len(all_train)} MOSES train molecules. Metrics took {metrics_s:.0f} s.", "",
        "MOSES paper: " + "; ".join(f"{k} {v}" for k, v in PAPER.items()), "",
        "Interpolation (held-out test molecule 1 -> 2):", "",
        *[f"{i}. `{s}`" for i, s in enumerate(path)], "",
        f"QED optimisation ({opt_s:.0f} s): best {opt.best:.4f} after {opt.evaluations} "
        f"evaluations (best first reached at {opt.evaluations_to_best}); best QED in the "
        f"head's training sample of {opt.train_evaluations}: {opt.train_best:.4f}; "
        f"head R^2 {opt.head_r2:.3f}.", "",
        *[f"- `{s}` QED {v:.4f}" for s, v in opt.top[:5]],
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(md) + "\n")
    out.with_suffix(".json").write_text(json.dumps(
        {"args": vars(args), "train_seconds": train_s, "metrics": metrics,
         "reconstruction_heldout": recon, "reconstruction_train": recon_train,
         "interpolation": path, "optimization": opt.to_dict(),
         "history": est.history_}, indent=2, default=str))
    print("\n".join(md))


if __name__ == "__main__":
    main()
