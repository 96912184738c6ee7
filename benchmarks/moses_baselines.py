"""The MOSES NGram baseline beside aekit's molecule VAE, measured the same way (CPU).

:class:`NGram` is the character n-gram model of the MOSES baselines
(moses/baselines/ngram.py of molsets 0.3.1, Polykovskiy et al. 2020), written again
here without its package: counts of the next character after every context of 1 to
``max_context_len`` characters; sampling takes the longest context seen in training,
adds ``l_smooth`` to every character's count (and to <eos>'s), and draws. It is a
benchmark reference only, not part of the library.

It is fitted on the same MOSES train molecules as bench_moses.py (the first
``--train-size``), samples the same number of molecules, and is measured by the same
:func:`moses_common.evaluate` (aekit.metrics.moses, the same test sets and sizes). The
table puts it beside the aekit row of benchmarks/results/moses.json (written by
bench_moses.py) and the MOSES paper's rows (quoted)::

    nice python benchmarks/moses_baselines.py --train-size 100000

Writes benchmarks/results/moses_baselines.md and .json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from moses_common import PAPER, add_eval_args, evaluate, read_column
from results_file import RESULTS, write_result
from tqdm.auto import tqdm

BOS, EOS, PAD, UNK = "<bos>", "<eos>", "<pad>", "<unk>"


class NGram:
    """MOSES' character n-gram generator (see the module docstring)."""

    def __init__(self, max_context_len: int = 10) -> None:
        self.max_context_len = max_context_len
        self.counts: dict[tuple[int, ...], np.ndarray] = {}

    def fit(self, data: list[str]) -> NGram:
        """Count every (context of 1..max_context_len ids, next id) pair of ``data``."""
        # MOSES' CharVocab: the sorted characters, then <bos>, <eos>, <pad>, <unk>
        self.chars = sorted({c for s in data for c in s}) + [BOS, EOS, PAD, UNK]
        index = {c: i for i, c in enumerate(self.chars)}
        self.bos, self.eos = index[BOS], index[EOS]
        n = len(self.chars)
        # smoothing mass goes to every character and <eos>, never to <bos>/<pad>/<unk>
        self.default_probs = np.hstack([np.ones(n - 4), [0.0, 1.0, 0.0, 0.0]])
        for s in tqdm(data, desc="counting n-grams", mininterval=5):
            ids = (self.bos, *(index[c] for c in s), self.eos)
            for i in range(len(ids)):
                for shift in range(self.max_context_len):
                    if i + shift + 1 >= len(ids):
                        break
                    context = ids[i:i + shift + 1]
                    row = self.counts.get(context)
                    if row is None:
                        row = self.counts[context] = np.zeros(n)
                    row[ids[i + shift + 1]] += 1.0
        return self

    def generate_one(self, rng: np.random.RandomState, l_smooth: float = 0.01,
                     max_len: int = 100) -> str:
        """One string drawn character by character (as MOSES' ``generate_one``)."""
        res = [self.bos]
        while res[-1] != self.eos and len(res) < max_len:
            context = tuple(res[max(len(res) - self.max_context_len, 0):])
            while context not in self.counts:
                context = context[1:]
            smoothed = self.counts[context] + self.default_probs * l_smooth
            res.append(int(rng.choice(len(self.chars), p=smoothed / smoothed.sum())))
        return "".join(self.chars[i] for i in res[1:] if i != self.eos)


def side_by_side(rows: dict[str, dict[str, float]]) -> list[str]:
    """A markdown table, one column per model, one row per metric of any."""
    names = list(rows)
    keys = list(dict.fromkeys(k for row in rows.values() for k in row))
    lines = ["| metric | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for k in keys:
        cells = [f"{rows[n][k]:.4f}" if k in rows[n] else "" for n in names]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_eval_args(ap)
    ap.add_argument("--train-size", type=int, default=100000)
    ap.add_argument("--max-context-len", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--aekit", default=str(RESULTS / "moses.json"),
                    help="bench_moses.py's result to put beside the baseline")
    ap.add_argument("--out", default=str(RESULTS / "moses_baselines.md"))
    ap.add_argument("--table", action="store_true",
                    help="only rebuild the table from the saved .json (e.g. after a new "
                    "aekit run)")
    args = ap.parse_args()
    saved = Path(args.out).with_suffix(".json")
    if args.table:
        state = json.loads(saved.read_text())
    else:
        state = measure(args)
        saved.write_text(json.dumps(state, indent=2))
    write_result(args.out, table(state, Path(args.aekit)))


def measure(args: argparse.Namespace) -> dict:
    """Fit NGram, sample, and measure it and real MOSES test molecules alike."""
    train = read_column(Path(args.data_dir) / "train.csv.gz", limit=args.train_size)
    t0 = time.perf_counter()
    model = NGram(args.max_context_len).fit(train)
    fit_s = time.perf_counter() - t0
    rng = np.random.RandomState(args.seed)
    t0 = time.perf_counter()
    gen = [model.generate_one(rng) for _ in tqdm(range(args.samples), desc="sampling",
                                                 mininterval=5)]
    sample_s = time.perf_counter() - t0
    metrics, where = evaluate(gen, args)
    # real molecules measured the same way: what a perfect generator would score at
    # these sizes (MOSES test molecules after the reference ones, so none is shared)
    real = read_column(Path(args.data_dir) / "test.csv.gz",
                       limit=args.reference_size + args.samples)[args.reference_size:]
    return {"args": vars(args), "command": " ".join(sys.argv[1:]), "fit_seconds": fit_s,
            "sample_seconds": sample_s, "where": where, "metrics": metrics,
            "real_metrics": evaluate(real, args)[0], "real_count": len(real),
            "samples_head": gen[:50]}


def table(state: dict, aekit_path: Path) -> list[str]:
    """The markdown section: NGram, real molecules, aekit (if measured alike), paper."""
    args = state["args"]
    rows = {f"NGram ({args['train_size']} train)": state["metrics"],
            f"MOSES test ({state['real_count']}, not in the reference)":
                state["real_metrics"]}
    aekit_note = f"No aekit result at {aekit_path} yet: run bench_moses.py first."
    if aekit_path.is_file():
        ours = json.loads(aekit_path.read_text())
        keys = ("train_size", "samples", "reference_size", "fcd_size", "data_dir")
        if all(ours["args"].get(k) == args[k] for k in keys):
            rows[f"aekit VAE ({ours['args']['train_size']} train)"] = {
                **ours["metrics"],
                "reconstruction (held-out test)": ours["reconstruction_heldout"]}
            aekit_note = (f"The aekit column is {aekit_path.name} (bench_moses.py, "
                          f"{ours['train_seconds']:.0f} s of training, {ours['steps']} steps): "
                          "the same train molecules, sample size and reference sets.")
        else:
            aekit_note = (f"{aekit_path.name} was measured with other sizes; not shown beside "
                          "this baseline.")
    for name in ("NGram", "VAE"):
        rows[f"MOSES paper {name} (quoted)"] = PAPER[name]
    return ["## MOSES: the NGram baseline beside aekit's molecule VAE (CPU)", "",
            f"`nice python benchmarks/moses_baselines.py {state['command']}`", "",
            f"NGram (MOSES' character model, contexts up to {args['max_context_len']}, "
            f"smoothing 0.01) fitted on the first {args['train_size']} MOSES train molecules "
            f"in {state['fit_seconds']:.0f} s; {args['samples']} samples in "
            f"{state['sample_seconds']:.0f} s, 2-core shared machine. " + state["where"]
            + " The column of MOSES test molecules (not those of the reference) is what a "
            "generator of real molecules scores with these sizes: the floor of FCD and the "
            "level of SNN/Frag/Scaf to compare with.", "", aekit_note, "",
            *side_by_side(rows), "",
            "The paper's rows are quoted (30k samples, models fitted on all 1.58M train "
            "molecules, FCD on all samples): they are not comparable with a small-n FCD."]

if __name__ == "__main__":
    main()
