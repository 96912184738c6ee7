"""MOSES' NGram and combinatorial baselines beside aekit's molecule VAE, measured the
same way (CPU).

Both are written again here from the molsets 0.3.1 source (moses/baselines/ngram.py and
combinatorial.py, Polykovskiy et al. 2020), without its package; they are benchmark
references only, not part of the library.

* :class:`NGram`: counts of the next character after every context of 1 to
  ``max_context_len`` characters; sampling takes the longest context seen in training,
  adds ``l_smooth`` to every character's count (and to <eos>'s), and draws.
* :class:`Combinatorial`: the BRICS fragments of the training molecules (MOSES'
  ``fragmenter``, :func:`aekit.metrics.moses.molecule_fragments`) with their
  frequencies, and the distribution of the number of fragments per molecule; sampling
  draws a fragment count, then fragments by frequency under MOSES' bounds on their
  attachment points, each joined to a random open attachment point of the molecule so
  far (any BRICS label to any: MOSES does not match them).

They are fitted on the same MOSES train molecules as bench_moses.py (the first
``--train-size``), sample the same number of molecules, and are measured by the same
:func:`moses_common.evaluate` (aekit.metrics.moses, the same test sets and sizes). The
table puts them beside the aekit runs of ``--aekit`` (bench_moses.py's .json results) and
the MOSES paper's rows (quoted)::

    nice python benchmarks/moses_baselines.py --train-size 30000
    nice python benchmarks/moses_baselines.py --train-size 30000 --models combinatorial
    cd benchmarks/results && python ../moses_baselines.py --train-size 30000 --table \
        --out moses_baselines.md --aekit moses.json moses_wd0.json moses_stream.json \
        moses_stream_wd0.json moses_fb05.json moses_wd0_t08.json moses_wd0_t06.json \
        moses_guard.json moses_guard6.json moses_long.json moses_long_guard.json \
        moses_long_guard_t08.json moses_100k.json moses_100k_t08.json \
        moses_100k_benzenes.json moses_100k_benzenes_t08.json \
        --more moses_baselines_100k.json

The baselines fitted on 100,000 molecules, for the 100k aekit run, were measured by two
processes at once (``--train-size 100000 --models ngram`` and ``--models combinatorial``,
each with its own ``--out``, one thread); their entries were put together in
results/moses_baselines_100k.json (``--more``), with the MOSES-test row of the 30,000-molecule
state, which does not depend on the train size.

Writes benchmarks/results/moses_baselines.md and .json (one entry per baseline, so one
can be re-measured alone).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from moses_common import PAPER, add_eval_args, evaluate, read_column
from results_file import RESULTS, write_result
from tqdm.auto import tqdm

from aekit.data.molecules import _quiet_rdkit
from aekit.metrics.moses import molecule_fragments

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

    def _probs(self, res: list[int], l_smooth: float) -> np.ndarray:
        """Next-id probabilities after the ids ``res``: the longest context seen."""
        context = tuple(res[max(len(res) - self.max_context_len, 0):])
        while context not in self.counts:
            context = context[1:]
        smoothed = self.counts[context] + self.default_probs * l_smooth
        return smoothed / smoothed.sum()

    def log_prob(self, smiles: str, l_smooth: float = 0.01) -> float:
        """log p(``smiles`` then <eos>) under the sampling distribution of
        :meth:`generate_one` (nats); -inf for a character never seen in training."""
        index = {c: i for i, c in enumerate(self.chars[:-4])}
        if any(c not in index for c in smiles):
            return -np.inf
        res, total = [self.bos], 0.0
        for i in [*(index[c] for c in smiles), self.eos]:
            total += float(np.log(self._probs(res, l_smooth)[i]))
            res.append(i)
        return total

    def generate_one(self, rng: np.random.RandomState, l_smooth: float = 0.01,
                     max_len: int = 100) -> str:
        """One string drawn character by character (as MOSES' ``generate_one``)."""
        res = [self.bos]
        while res[-1] != self.eos and len(res) < max_len:
            res.append(int(rng.choice(len(self.chars), p=self._probs(res, l_smooth))))
        return "".join(self.chars[i] for i in res[1:] if i != self.eos)


class Combinatorial:
    """MOSES' combinatorial generator (see the module docstring): BRICS fragments drawn
    with their training frequencies and joined at random attachment points."""

    def fit(self, data: list[str]) -> Combinatorial:
        """Count the BRICS fragments of ``data`` and how many fragments a molecule has."""
        chem = _quiet_rdkit()
        counts: Counter = Counter()
        sizes: Counter = Counter()
        for s in tqdm(data, desc="fragmenting", mininterval=5):
            frags = molecule_fragments(chem.MolFromSmiles(s))
            counts.update(frags)
            sizes[len(frags)] += 1
        self.fragments = list(counts)
        self.mols = [chem.MolFromSmiles(f) for f in self.fragments]
        self.attachments = np.array([f.count("*") for f in self.fragments])
        self.frequency = np.array([counts[f] for f in self.fragments], dtype=float)
        self.sizes = np.array(sorted(sizes))
        self.size_probs = np.array([sizes[k] for k in self.sizes], dtype=float)
        self.size_probs /= self.size_probs.sum()
        return self

    def generate_one(self, rng: np.random.RandomState) -> str:
        """One molecule (as MOSES' ``generate_one``): draw the number of fragments T,
        then T fragments, the i-th among those with attachment points in [low, high]
        so that the open points can all be closed by the T - i fragments left (and the
        molecule does not close early), each joined by one open point of the molecule
        and one of the fragment, both chosen at random."""
        chem = _quiet_rdkit()
        total = int(rng.choice(self.sizes, p=self.size_probs))
        mol = None
        for i in range(total):
            open_points = [] if mol is None else _dummies(mol)
            high = total - 1 if mol is None else total - i - len(open_points) + 1
            if total == 1:
                low = 0
            elif i != 0 and len(open_points) == 1 and total > i + 1:
                low = 2
            else:
                low = 1
            allowed = (self.attachments >= low) & (self.attachments <= high)
            weights = np.where(allowed, self.frequency, 0.0)
            fragment = self.mols[rng.choice(len(weights), p=weights / weights.sum())]
            if mol is None:
                mol = fragment
                continue
            a = open_points[rng.randint(len(open_points))]
            b_points = _dummies(fragment)
            b = b_points[rng.randint(len(b_points))]
            # bond the dummies' neighbours with the fragment's bond order, drop the dummies
            edit = chem.EditableMol(chem.CombineMols(mol, fragment))
            shift = mol.GetNumAtoms()
            edit.AddBond(a.GetNeighbors()[0].GetIdx(), b.GetNeighbors()[0].GetIdx() + shift,
                         order=b.GetBonds()[0].GetBondType())
            edit.RemoveAtom(b.GetIdx() + shift)
            edit.RemoveAtom(a.GetIdx())
            mol = edit.GetMol()
        return chem.MolToSmiles(mol)


def _dummies(mol: Any) -> list[Any]:
    """The attachment points (``*`` atoms) of a fragment or partial molecule."""
    return [a for a in mol.GetAtoms() if a.GetSymbol() == "*"]


def side_by_side(rows: dict[str, dict[str, float]]) -> list[str]:
    """A markdown table, one column per model, one row per metric of any."""
    names = list(rows)
    keys = list(dict.fromkeys(k for row in rows.values() for k in row))
    lines = ["| metric | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for k in keys:
        cells = [f"{rows[n][k]:.4f}" if k in rows[n] else "" for n in names]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return lines


BASELINES = {"ngram": "NGram", "combinatorial": "Combinatorial"}
"""Command-line name -> label (and key of moses_common.PAPER) of each baseline."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_eval_args(ap)
    ap.add_argument("--train-size", type=int, default=100000)
    ap.add_argument("--models", nargs="+", choices=list(BASELINES), default=list(BASELINES),
                    help="baselines to fit and measure now; the others keep their saved "
                    "results (measured with the same sizes)")
    ap.add_argument("--max-context-len", type=int, default=10, help="NGram's longest context")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--aekit", nargs="+", default=[str(RESULTS / "moses.json")],
                    help="bench_moses.py results to put beside the baselines (any train "
                    "size; the other sizes must match)")
    ap.add_argument("--more", nargs="+", default=[],
                    help="saved .json of baselines fitted on another train size (an --out of "
                    "this script) to show beside those of --out (the other sizes must match)")
    ap.add_argument("--out", default=str(RESULTS / "moses_baselines.md"))
    ap.add_argument("--table", action="store_true",
                    help="only rebuild the table from the saved .json (e.g. after a new "
                    "aekit run)")
    args = ap.parse_args()
    saved = Path(args.out).with_suffix(".json")
    state = json.loads(saved.read_text()) if saved.is_file() else {"models": {}}
    if not args.table:
        state = measure(args, state)
        saved.write_text(json.dumps(state, indent=2))
    more = [json.loads(Path(p).read_text()) for p in args.more]
    for other, path in zip(more, args.more):
        if any(other["sizes"][k] != state["sizes"][k] for k in SIZES if k != "train_size"):
            raise SystemExit(f"{path} was measured with other sizes than {saved}")
    write_result(args.out, table([state, *more], [Path(p) for p in args.aekit]))


SIZES = ("train_size", "samples", "reference_size", "fcd_size", "data_dir")
"""Settings two results must share to stand in one table."""


def measure(args: argparse.Namespace, state: dict) -> dict:
    """Fit, sample and measure each of ``--models`` (and real MOSES test molecules, once)
    alike; saved results measured with other sizes are dropped."""
    settings = {k: getattr(args, k) for k in SIZES}
    if state.get("sizes") != settings:
        state = {"sizes": settings, "models": {}}
    train = read_column(Path(args.data_dir) / "train.csv.gz", limit=args.train_size)
    for name in args.models:
        t0 = time.perf_counter()
        model = (NGram(args.max_context_len) if name == "ngram" else Combinatorial()).fit(train)
        fit_s = time.perf_counter() - t0
        rng = np.random.RandomState(args.seed)
        t0 = time.perf_counter()
        gen = [model.generate_one(rng) for _ in tqdm(range(args.samples), desc="sampling",
                                                     mininterval=5)]
        sample_s = time.perf_counter() - t0
        metrics, state["where"] = evaluate(gen, args)
        state["models"][name] = {"command": " ".join(sys.argv[1:]), "fit_seconds": fit_s,
                                 "sample_seconds": sample_s, "metrics": metrics,
                                 "settings": {"seed": args.seed, **({"max_context_len":
                                              args.max_context_len} if name == "ngram" else {})},
                                 "samples_head": gen[:50]}
    if "real_metrics" not in state:
        # real molecules measured the same way: what a perfect generator would score at
        # these sizes (MOSES test molecules after the reference ones, so none is shared)
        real = read_column(Path(args.data_dir) / "test.csv.gz",
                           limit=args.reference_size + args.samples)[args.reference_size:]
        state["real_metrics"], state["real_count"] = evaluate(real, args)[0], len(real)
    return state


def table(states: list[dict], aekit_paths: list[Path]) -> list[str]:
    """The markdown section: the baselines (of every saved state: one per train size),
    real molecules, aekit (if measured alike), the paper's rows."""
    state, sizes = states[0], states[0]["sizes"]
    fitted = [(s["sizes"]["train_size"], name, m) for s in states
              for name, m in s["models"].items()]
    rows = {f"{BASELINES[name]} ({n} train)": m["metrics"] for n, name, m in fitted}
    rows[f"MOSES test ({state['real_count']}, not in the reference)"] = state["real_metrics"]
    notes = []
    for path in aekit_paths:
        if not path.is_file():
            notes.append(f"No aekit result at {path} yet: run bench_moses.py first.")
            continue
        ours = json.loads(path.read_text())
        a = ours["args"]
        if any(a.get(k) != sizes[k] for k in SIZES if k != "train_size"):
            notes.append(f"{path.name} was measured with other sizes; not shown.")
            continue
        rows[f"aekit {path.stem} ({a['train_size']} train, {ours['steps']} steps)"] = {
            **ours["metrics"], "reconstruction (held-out test)": ours["reconstruction_heldout"]}
        command = next(line for line in path.with_suffix(".md").read_text().splitlines()
                       if line.startswith("`nice python"))
        seen = (f", {ours['molecules_seen']} molecules seen" if "molecules_seen" in ours
                else "")
        notes.append(f"`{path.stem}`: {command}, {ours['train_seconds']:.0f} s of "
                     f"training{seen}.")
    for name in (*BASELINES.values(), "VAE"):
        rows[f"MOSES paper {name} (quoted)"] = PAPER[name]
    how = []
    for n, name, m in fitted:
        what = (f"NGram (MOSES' character model, contexts up to "
                f"{m['settings']['max_context_len']}, smoothing 0.01)" if name == "ngram"
                else "Combinatorial (MOSES' BRICS-fragment generator)")
        how.append(f"{what}, {n} train: "
                   f"`nice python benchmarks/moses_baselines.py {m['command']}`, "
                   f"fitted in {m['fit_seconds']:.0f} s, {sizes['samples']} samples in "
                   f"{m['sample_seconds']:.0f} s.")
    return ["## MOSES: baselines beside aekit's molecule VAE (CPU)", "",
            *how, "",
            "Each fitted on the first molecules of MOSES train (as many as its column "
            "says; the 100,000-molecule ones with one thread, two processes at once) on a "
            "2-core machine shared with three other engineers' jobs. " + state["where"]
            + " The column of MOSES test molecules (not those of the reference) is what a "
            "generator of real molecules scores with these sizes: the floor of FCD and the "
            "level of SNN/Frag/Scaf to compare with.", "",
            "The aekit columns (bench_moses.py runs, the same sample size and reference sets; "
            "the CPU budget in optimiser steps of 128 molecules is in each column's name "
            "(about 1,175 steps, some 150,000 molecules seen, unless it says otherwise); "
            "the run's train molecules are the first ones of MOSES train; wall times "
            "follow the load of the shared machine, where up to four of these runs trained "
            "at once):", "",
            *[f"- {n}" for n in notes], "",
            *side_by_side(rows), "",
            "The paper's rows are quoted (30k samples, models fitted on all 1.58M train "
            "molecules, FCD on all samples): they are not comparable with a small-n FCD."]


if __name__ == "__main__":
    main()
