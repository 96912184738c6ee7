"""MOSES benchmark of aekit's molecule VAE on a GPU (a longer run than the CPU budget).

Self-contained for a machine with python3, torch+CUDA, numpy, scipy and scikit-learn and
no internet. Molecule packages come from wheels given with ``--wheels`` (installed into a
temporary folder, nothing system-wide), MOSES from ``--data-dir`` holding
``train.csv.xz``, ``test.csv.xz`` and ``test_scaffolds.csv.xz`` (the MOSES CSVs
recompressed with xz to fit the carry limit)::

    python3 benchmarks/gpu_moses.py --wheels WHEELS --data-dir DATA --out moses_gpu.md

It trains :class:`aekit.apps.molecules.MoleculeVAE` on ``--train-size`` MOSES train
molecules for ``--max-minutes`` of wall time (the settings and the measurements after
training are those of the CPU script, from moses_common.py), samples 10,000 molecules, and computes
every MOSES metric against the *full* test and test-scaffold sets (FCD with all of
them), novelty against the full train set, held-out reconstruction on 1,000 test
molecules, an interpolation path and latent-space QED optimisation. RDKit work runs in a
process pool. Writes ``--out`` (markdown) and the same name with ``.json``.
"""

from __future__ import annotations

import argparse
import json
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

from moses_common import (  # noqa: E402  (after the path to src/)
    add_vae_args,
    latent_lines,
    latent_work,
    make_estimator,
    metric_rows,
    read_column,
)


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
    add_vae_args(ap, max_minutes=1.5, epochs=50, batch_size=512, learning_rate=2e-3,
                 hidden_size=512, free_bits=0.2, word_dropout=0.25, kl_warmup_steps=1500,
                 device="cuda")
    ap.add_argument("--samples", type=int, default=10000)
    ap.add_argument("--property-samples", default="100,500",
                    help="sizes of the property head's training sample, one run each")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
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

    from aekit.metrics.moses import (
        ChemNet,
        aggregate_tanimoto,
        count_cosine,
        novelty,
        unique_at,
    )
    from aekit.metrics.sample_quality import frechet_distance, gaussian_fit

    data = Path(args.data_dir)
    train_all = read_column(data / "train.csv.xz")
    refs = {"Test": read_column(data / "test.csv.xz"),
            "TestSF": read_column(data / "test_scaffolds.csv.xz")}
    if args.limit_reference:
        refs = {k: v[:args.limit_reference] for k, v in refs.items()}
    train = train_all[:args.train_size]
    if not torch.cuda.is_available():
        args.device = "cpu"
    device = args.device
    log = {"device": torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu",
           "args": vars(args)}
    print(f"data read ({len(train_all)} train, {len(refs['Test'])} test, "
          f"{len(refs['TestSF'])} test_scaffolds) at {time.perf_counter() - t_all:.0f} s")

    est = make_estimator(args, n_jobs=args.jobs)
    t0 = time.perf_counter()
    est.fit(train)
    log["train_seconds"] = time.perf_counter() - t0
    log["epochs_run"] = est.history_[-1]["epoch"]
    log["last_epoch"] = est.history_[-1]
    print(f"trained {log['epochs_run']} epochs in {log['train_seconds']:.0f} s: "
          f"{est.history_[-1]}")

    gen = est.sample(args.samples, seed=1)
    work = latent_work(est, train, refs["Test"][:1000],
                       tuple(int(n) for n in args.property_samples.split(",")), steps=50)
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
    log.update({k: v for k, v in work.items() if k != "optimization"})
    log["optimization"] = {n: o.to_dict() for n, o in work["optimization"].items()}
    log["total_seconds"] = time.perf_counter() - t_all
    md = [f"# MOSES benchmark (GPU: {log['device']})", "",
          f"`python3 benchmarks/gpu_moses.py {' '.join(sys.argv[1:])}`", "",
          f"Training: {len(train)} MOSES train molecules, {log['epochs_run']} epochs in "
          f"{log['train_seconds']:.0f} s; whole script {log['total_seconds']:.0f} s.", "",
          *metric_rows(m), "", *latent_lines(work)]
    out = Path(args.out)
    out.write_text("\n".join(md) + "\n")
    out.with_suffix(".json").write_text(json.dumps(log, indent=2, default=str))
    print("\n".join(md))


if __name__ == "__main__":
    main()
