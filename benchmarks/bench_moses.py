"""MOSES benchmark of aekit's molecule VAE on a CPU budget.

Trains :class:`aekit.apps.molecules.MoleculeVAE` (autoregressive GRU decoder) on a subset
of MOSES train, then measures what the issue asks for: the MOSES metrics of ``--samples``
prior samples (validity, unique@1k/@10k, novelty against the whole MOSES train, IntDiv,
filters, FCD/SNN/Frag/Scaf against a subset of MOSES test and test-scaffolds: the sets
and sizes of :func:`moses_common.evaluate`, shared with the NGram baseline of
moses_baselines.py), exact-canonical reconstruction of held-out MOSES test molecules,
an interpolation path and latent-space QED optimisation against the best QED of the
property head's sample.

Get the data once (the molsets wheel carries it; nothing of its code is used)::

    pip download --no-deps molsets==0.3.1 -d /work/cache/molsets
    python -c "from aekit.data.molecules import extract_moses; \
extract_moses('/work/cache/molsets/molsets-0.3.1-py3-none-any.whl', '/work/cache/moses')"

Run::

    nice python benchmarks/bench_moses.py --train-size 100000 --max-minutes 20

Prints a table and writes benchmarks/results/moses.md and moses.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
from moses_common import (
    add_eval_args,
    add_vae_args,
    evaluate,
    latent_lines,
    latent_work,
    make_estimator,
    metric_rows,
    paper_lines,
    read_column,
    ring_lines,
    ring_shapes,
)
from results_file import RESULTS, write_result

from aekit.apps.molecules import MoleculeVAE


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_eval_args(ap)
    add_vae_args(ap, epochs=100)
    ap.add_argument("--train-size", type=int, default=100000)
    ap.add_argument("--run", default="/work/cache/i14/moses_run", help="model folder written")
    ap.add_argument("--heldout", type=int, default=1000, help="test molecules reconstructed")
    ap.add_argument("--property-sample", type=int, nargs="+", default=[500],
                    help="sizes of the training samples property heads are fitted on")
    ap.add_argument("--latent-only", action="store_true",
                    help="with --measure-only: only reconstruction, interpolation and "
                    "optimisation (no samples, no MOSES metrics)")
    ap.add_argument("--measure-only", action="store_true",
                    help="measure the model already in --run instead of training one")
    ap.add_argument("--temperature", type=float, default=1.0, help="sampling temperature")
    ap.add_argument("--ring-guard", default="on",
                    help="on (the learned limit), off, or a ring size: MoleculeVAE ring_guard")
    ap.add_argument("--close-benzenes", action=argparse.BooleanOptionalAction, default=None,
                    help="the ring guard's benzene rule (MoleculeVAE close_benzenes; "
                    "default: on with the guard)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(RESULTS / "moses.md"))
    args = ap.parse_args()
    if args.latent_only and not args.measure_only:
        ap.error("--latent-only needs --measure-only (a saved run)")
    torch.set_num_threads(args.threads)
    data = Path(args.data_dir)
    train = read_column(data / "train.csv.gz", limit=args.train_size)
    test = read_column(data / "test.csv.gz", limit=args.heldout)

    limit_note = ""
    if args.measure_only:
        est = MoleculeVAE.load(args.run)
        train_s = sum(r["time"] for r in est.history_)  # the epochs' own wall times
        if est.max_ring_size_ is None:  # saved before the guard: learn its limit now
            from aekit.data.selfies_rings import largest_ring
            est.max_ring_size_ = largest_ring(train)
            limit_note = (f" (the run predates the guard: its limit, {est.max_ring_size_}, "
                          f"was learned here from the same {len(train)} train molecules)")
    else:
        est = make_estimator(args, verbose=True)
        t0 = time.perf_counter()
        est.fit(train, run_dir=args.run)
        train_s = time.perf_counter() - t0
    last = est.history_[-1]
    print(f"trained in {train_s:.0f} s; last epoch {last}")
    modes = {"on": True, "off": False}
    est.set_params(ring_guard=modes[args.ring_guard] if args.ring_guard in modes
                   else int(args.ring_guard), close_benzenes=args.close_benzenes)
    work = latent_work(est, train, test, tuple(args.property_sample), n_recon=args.heldout)
    if args.latent_only:
        write_result(args.out, [
            "## MOSES: latent-space work of a saved aekit molecule VAE", "",
            f"`nice python benchmarks/bench_moses.py {' '.join(sys.argv[1:])}`", "",
            f"Model: {args.run}, {last['epoch']} epochs ({last['step']} steps) on "
            f"{len(train)} MOSES train molecules; settings {json.dumps(est.get_params())}. "
            "2-core machine shared with other jobs.", "", *latent_lines(work)])
        return
    t0 = time.perf_counter()
    gen = est.sample(args.samples, temperature=args.temperature, seed=1)
    sample_s = time.perf_counter() - t0
    rings = {"samples": ring_shapes(gen),
             "MOSES test (first 10000)": ring_shapes(read_column(
                 data / "test.csv.gz", limit=10000))}
    guard = ("Ring guard off." if args.ring_guard == "off" else
             f"Ring guard on, limit {est.ring_limit()} atoms (largest training ring "
             f"{est.max_ring_size_}{limit_note}); {est.last_redraws_} of {len(gen)} strings "
             "redrawn after decoding (their molecule still broke the limit).")
    t0 = time.perf_counter()
    metrics, where = evaluate(gen, args)
    metrics_s = time.perf_counter() - t0
    md = [
        "## MOSES: aekit molecule VAE on a CPU budget"
        + (f", sampled at temperature {args.temperature}" if args.temperature != 1 else "")
        + {"on": "", "off": ", ring guard off"}.get(
            args.ring_guard, f", ring guard at {args.ring_guard} atoms")
        + (", closing kekule benzenes" if args.close_benzenes else
           ", benzene rule off" if args.close_benzenes is False else ""),
        "",
        f"`nice python benchmarks/bench_moses.py {' '.join(sys.argv[1:])}`", "",
        f"Hardware: {platform.processor() or platform.machine()}, a 2-core machine shared "
        f"with other jobs, torch threads {args.threads}. Training: {len(train)} MOSES train "
        f"molecules, {last['epoch']} epochs ({last['step']} steps, "
        f"{last['step'] * est.batch_size} molecules seen) in {train_s:.0f} s "
        + ("(the saved run's epoch times); " if args.measure_only else "wall; ")
        + f"sampling {len(gen)} at temperature {args.temperature} took {sample_s:.0f} s, "
        f"the metrics {metrics_s:.0f} s.",
        f"Settings: {json.dumps(est.get_params())}", "", guard, "",
        *metric_rows(metrics), "", where, "", *ring_lines(rings), "",
        *latent_lines(work), "", *paper_lines()]
    write_result(args.out, md)
    Path(args.out).with_suffix(".json").write_text(json.dumps(
        {"args": vars(args), "train_seconds": train_s, "steps": last["step"],
         "molecules_seen": last["step"] * est.batch_size,
         "metrics": metrics, "ring_shapes": rings, "redraws": est.last_redraws_,
         "max_ring_size": est.max_ring_size_,
         **{k: v for k, v in work.items() if k != "optimization"},
         "optimization": {n: o.to_dict() for n, o in work["optimization"].items()},
         "history": est.history_}, indent=2, default=str))


if __name__ == "__main__":
    main()
