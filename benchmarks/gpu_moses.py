"""MOSES benchmark of aekit's molecule VAE on a GPU (a longer run than the CPU budget).

Self-contained for a machine with python3, torch+CUDA, numpy, scipy and scikit-learn and
no internet. Molecule packages come from wheels given with ``--wheels`` (installed into a
temporary folder, nothing system-wide), MOSES from ``--data-dir`` holding
``train.csv.xz``, ``test.csv.xz`` and ``test_scaffolds.csv.xz`` (the MOSES CSVs
recompressed with xz to fit the carry limit)::

    python3 benchmarks/gpu_moses.py --wheels WHEELS --data-dir DATA --out moses_gpu.md

It trains :class:`aekit.apps.molecules.MoleculeVAE` on ``--train-size`` MOSES train
molecules for ``--train-minutes`` of wall time, samples 10,000 molecules, and computes
every MOSES metric against the *full* test and test-scaffold sets (FCD with all of
them), novelty against the full train set, held-out reconstruction on 1,000 test
molecules, an interpolation path and latent-space QED optimisation. RDKit work runs in a
process pool. Writes ``--out`` (markdown) and the same name with ``.json``.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def install_wheels(wheels: str) -> None:
    """pip-install every wheel of a folder into a temporary target and import from it."""
    target = Path(tempfile.mkdtemp(prefix="aekit_chem_"))
    files = sorted(str(p) for p in Path(wheels).glob("*.whl")
                   if p.name.split("-")[0].lower() in ("rdkit", "selfies", "fcd_torch"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                    "--target", str(target), *files], check=True)
    sys.path.insert(0, str(target))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(target), str(ROOT / "src"),
                                                os.environ.get("PYTHONPATH", "")])


def read_xz(path: Path) -> list[str]:
    """First column of a MOSES CSV (header skipped); MOSES strings are RDKit-canonical."""
    with lzma.open(path, "rt") as f:
        next(f)
        return [line.split(",")[0].strip() for line in f if line.strip()]


def _chunks(items: list, n: int) -> list[list]:
    size = max(1, -(-len(items) // n))
    return [items[i:i + size] for i in range(0, len(items), size)]


def _fp(chunk):
    from aekit.metrics.moses import fingerprints
    return fingerprints(chunk)


def _frag(chunk):
    from aekit.metrics.moses import fragments
    return fragments(chunk)


def _scaf(chunk):
    from aekit.metrics.moses import scaffolds
    return scaffolds(chunk)


def _filters(chunk):
    from aekit.metrics.moses import passes_filters
    return [passes_filters(s) for s in chunk]


def _chemnet_ids(chunk):
    """fcd_torch's one-hot rows of canonical SMILES as class indices (int8, -1 = empty
    row), so that workers send 350 bytes per molecule instead of 49 kB."""
    import numpy as np
    from fcd_torch.utils import get_one_hot

    from aekit.data.molecules import canonical
    x = np.stack([get_one_hot(canonical(s), 350) for s in chunk])
    return np.where(x.any(2), x.argmax(2), -1).astype(np.int8)


def _canon(chunk):
    from aekit.data.molecules import canonical
    return [canonical(s) for s in chunk]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--wheels", default=None, help="folder with rdkit/selfies/fcd_torch wheels")
    ap.add_argument("--train-size", type=int, default=300000)
    ap.add_argument("--train-minutes", type=float, default=1.5)
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--latent-dim", type=int, default=64)
    ap.add_argument("--hidden-size", type=int, default=512)
    ap.add_argument("--embed-dim", type=int, default=64)
    ap.add_argument("--free-bits", type=float, default=0.2)
    ap.add_argument("--word-dropout", type=float, default=0.25)
    ap.add_argument("--kl-warmup-steps", type=int, default=1500)
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--property-samples", default="100,500",
                    help="sizes of the property head's training sample, one run each")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--limit-reference", type=int, default=None,
                    help="use only this many test / test_scaffolds molecules (smoke tests)")
    args = ap.parse_args()
    t_all = time.perf_counter()
    try:
        import rdkit  # noqa: F401
        import selfies  # noqa: F401
    except ImportError:
        if not args.wheels:
            sys.exit("rdkit/selfies are not installed: pass --wheels FOLDER")
        install_wheels(args.wheels)
    import numpy as np
    import torch

    from aekit.apps.molecules import MoleculeVAE
    from aekit.metrics.moses import (
        ChemNet,
        aggregate_tanimoto,
        count_cosine,
        novelty,
        unique_at,
    )
    from aekit.metrics.sample_quality import frechet_distance, gaussian_fit

    data = Path(args.data_dir)
    train_all = read_xz(data / "train.csv.xz")
    refs = {"Test": read_xz(data / "test.csv.xz"),
            "TestSF": read_xz(data / "test_scaffolds.csv.xz")}
    if args.limit_reference:
        refs = {k: v[:args.limit_reference] for k, v in refs.items()}
    train = train_all[:args.train_size]
    device = args.device if torch.cuda.is_available() or args.device == "cpu" else "cpu"
    log = {"device": torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu",
           "args": vars(args)}
    print(f"data read ({len(train_all)} train, {len(refs['Test'])} test, "
          f"{len(refs['TestSF'])} test_scaffolds) at {time.perf_counter() - t_all:.0f} s")

    est = MoleculeVAE(latent_dim=args.latent_dim, hidden_size=args.hidden_size,
                      embed_dim=args.embed_dim, free_bits=args.free_bits,
                      word_dropout=args.word_dropout, kl_warmup_steps=args.kl_warmup_steps,
                      epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                      max_minutes=args.train_minutes, n_jobs=args.jobs, device=device)
    t0 = time.perf_counter()
    est.fit(train)
    log["train_seconds"] = time.perf_counter() - t0
    log["epochs_run"] = est.history_[-1]["epoch"]
    log["last_epoch"] = est.history_[-1]
    print(f"trained {log['epochs_run']} epochs in {log['train_seconds']:.0f} s: "
          f"{est.history_[-1]}")

    gen = est.sample(args.samples, seed=1)
    heldout = refs["Test"][:1000]
    log["reconstruction_heldout"] = est.reconstruction_accuracy(heldout)
    log["reconstruction_train"] = est.reconstruction_accuracy(train[:1000])
    ends = [s for s in heldout if est.tokenizer_.fits(s)][:2]
    log["interpolation"] = est.interpolate(ends[0], ends[1], steps=8)
    opts = {int(n): est.optimize(train[:int(n)], "qed", steps=50, starts=20)
            for n in args.property_samples.split(",")}
    log["optimization"] = {n: o.to_dict() for n, o in opts.items()}
    print(f"sampled, reconstructed, optimised at {time.perf_counter() - t_all:.0f} s")

    ctx = get_context("spawn")
    with ctx.Pool(args.jobs) as pool:
        def pmap(fn, items):
            return pool.map(fn, _chunks(items, 4 * args.jobs))

        valid = [c for part in pmap(_canon, gen) for c in part if c]
        m: dict[str, float] = {"valid": len(valid) / len(gen),
                               "unique@1k": unique_at(valid, 1000),
                               "unique@10k": unique_at(valid, 10000),
                               "novelty": novelty(valid, train_all)}
        fps = np.concatenate(pmap(_fp, valid))
        for key, p in (("IntDiv", 1), ("IntDiv2", 2)):
            m[key] = float(1 - aggregate_tanimoto(fps, fps, "mean", p, device=device).mean())
        m["filters"] = float(np.mean([ok for part in pmap(_filters, valid) for ok in part]))
        net = ChemNet(device=device)

        def chem_stats(smiles):
            feats = []
            for ids in pmap(_chemnet_ids, smiles):
                with torch.inference_mode():
                    for i in range(0, len(ids), 2048):
                        idx = torch.from_numpy(ids[i:i + 2048]).to(device).long() + 1
                        x = torch.nn.functional.one_hot(idx, 36)[..., 1:].float() / 35
                        feats.append(net.net(x.transpose(1, 2)).float().cpu().numpy())
            return gaussian_fit(np.concatenate(feats))

        gen_stats = chem_stats(valid)
        gen_frag = sum(pmap(_frag, valid), Counter())
        gen_scaf = sum(pmap(_scaf, valid), Counter())
        print(f"generated set measured at {time.perf_counter() - t_all:.0f} s")
        for name, ref in refs.items():
            m[f"FCD/{name}"] = frechet_distance(*gen_stats, *chem_stats(ref))
            rfps = np.concatenate(pmap(_fp, ref))
            m[f"SNN/{name}"] = float(aggregate_tanimoto(rfps, fps, "max", block=16384,
                                                        device=device).mean())
            m[f"Frag/{name}"] = count_cosine(sum(pmap(_frag, ref), Counter()), gen_frag)
            m[f"Scaf/{name}"] = count_cosine(sum(pmap(_scaf, ref), Counter()), gen_scaf)
            print(f"{name} measured at {time.perf_counter() - t_all:.0f} s")
    log["metrics"] = m
    log["total_seconds"] = time.perf_counter() - t_all
    md = [f"# MOSES benchmark (GPU: {log['device']})", "",
          f"`python3 benchmarks/gpu_moses.py {' '.join(sys.argv[1:])}`", "",
          f"Training: {len(train)} MOSES train molecules, {log['epochs_run']} epochs in "
          f"{log['train_seconds']:.0f} s; whole script {log['total_seconds']:.0f} s.", "",
          "| metric | value |", "|---|---|",
          *[f"| {k} | {v:.4f} |" for k, v in m.items()],
          f"| reconstruction (1000 held-out test) | {log['reconstruction_heldout']:.4f} |",
          f"| reconstruction (1000 train) | {log['reconstruction_train']:.4f} |", "",
          *[f"QED optimisation (head fitted on {n} molecules): best {o.best:.4f} after "
            f"{o.evaluations} evaluations (first at {o.evaluations_to_best}); best of the "
            f"head's sample: {o.train_best:.4f}; head R^2 {o.head_r2:.3f}; top: "
            + ", ".join(f"`{m}` {v:.3f}" for m, v in o.top[:3]) for n, o in opts.items()],
          "",
          "Interpolation: " + " -> ".join(f"`{s}`" for s in log["interpolation"])]
    out = Path(args.out)
    out.write_text("\n".join(md) + "\n")
    out.with_suffix(".json").write_text(json.dumps(log, indent=2, default=str))
    print("\n".join(md))


if __name__ == "__main__":
    main()
