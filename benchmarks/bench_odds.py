"""ODDS outlier-detection benchmark with PyOD's published protocol.

For each dataset in ``--data-dir`` (``*.mat`` with ``X`` and ``y``, as distributed by
ODDS) and each trial ``t`` in ``0..trials-1``: ``train_test_split(X, y, test_size=0.4,
random_state=t)``, standardise with the training part's mean and std, fit every detector
on the (contaminated, unlabelled) training part, and compute AUROC and AUPRC (average
precision) of its scores on the test part. Reported: mean and std over trials.

Detectors: aekit's default ``AnomalyDetector()`` (one configuration for every dataset),
optional ablations of it (``aekit-recon``, ``aekit-latent``, ``aekit-nonrobust``,
``aekit-1model``, ``aekit-vae-elbo``; see ``AEKIT_VARIANTS``; ``aekit-kth-all`` and
``aekit-kth256`` recalibrate the same trial's ``aekit`` fit so that ``latent_kth``
searches all reference codes, or a 256-code subset, instead of its 512-code subset, and
must be listed after ``aekit``) and, when PyOD is
installed (the ``bench`` extra), PyOD's AutoEncoder, VAE, IForest, PCA, INNE, ECOD and
KNN with their default settings, all in the same run.

``--max-train N`` subsamples training parts larger than N rows (a fixed random subset
per trial) for every detector alike, to bound the runtime; the test part is never
subsampled.

    python benchmarks/bench_odds.py [--data-dir ../shared/data/odds] [--trials 5]
        [--detectors aekit,AutoEncoder,...] [--max-train 10000] [--out FILE.md]
    python benchmarks/bench_odds.py --throughput [--rows 1000000] [--threads 2]

``--throughput`` instead fits each detector on 20,000 synthetic rows x 30 features and
times ``decision_function`` on ``--rows`` rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.io
import torch
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "odds"
PYOD_BASELINES = ("AutoEncoder", "VAE", "IForest", "PCA", "INNE", "ECOD", "KNN")
# PyOD's published AutoEncoder AUROC on these datasets (its benchmark page)
PUBLISHED_AE = {"arrhythmia": 0.774, "cardio": 0.817, "ionosphere": 0.896, "letter": 0.814,
                "mnist": 0.864, "pendigits": 0.782, "pima": 0.666, "satellite": 0.663,
                "shuttle": 0.990, "vertebral": 0.482}


# aekit's default, and ablations of it (for the "why" of the default)
AEKIT_VARIANTS: dict[str, dict] = {
    "aekit": {},
    "aekit-recon": {"score_type": "reconstruction"},
    "aekit-latent": {"score_type": "latent"},
    "aekit-nonrobust": {"robust_fraction": 0.0},
    "aekit-1model": {"n_estimators": 1},
    "aekit-kth-all": {},  # aekit's networks, latent_kth over all references (below)
    "aekit-kth256": {},  # aekit's networks, latent_kth over 256 references (below)
    "aekit-vae-elbo": {"model": "vae", "score_type": "elbo"},
}


def kth_over_refs(det: object, x_train: np.ndarray, n_refs: int | None = None) -> object:
    """A fitted aekit detector recalibrated so that ``latent_kth`` searches a subset of
    ``n_refs`` of its reference codes (default: all of them, up to ``MAX_REFERENCE``, m =
    5 % of them, as before the subset ``KTH_REFERENCE``: the exact search the subset
    estimates), with the same networks and the same references (nothing else depends on
    the subset)."""
    from aekit.apps import detect

    z = det._standardised(x_train)
    kept, detect.KTH_REFERENCE = detect.KTH_REFERENCE, n_refs or detect.MAX_REFERENCE
    try:
        det.members_ = [det._calibrate(m.model, z, int(det.random_state) * 1000 + i,
                                       det.parts_) for i, m in enumerate(det.members_)]
    finally:
        detect.KTH_REFERENCE = kept
    det.decision_scores_ = det._decision(z)
    det._set_threshold()
    return det


KTH_VARIANTS = {"aekit-kth-all": None, "aekit-kth256": 256}  # recalibrations of aekit's fit


def load_odds(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (float64) and ``y`` (0/1 int) from an ODDS .mat file."""
    try:
        d = scipy.io.loadmat(path)
    except NotImplementedError:  # MATLAB v7.3 files are HDF5
        import h5py

        with h5py.File(path, "r") as f:
            d = {"X": np.asarray(f["X"]).T, "y": np.asarray(f["y"]).T}
    return np.asarray(d["X"], dtype=np.float64), np.asarray(d["y"]).ravel().astype(int)


def split(x: np.ndarray, y: np.ndarray, trial: int, max_train: int | None):
    """PyOD's split + train-statistics standardisation (+ optional train subsampling)."""
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.4, random_state=trial)
    if max_train is not None and len(x_tr) > max_train:
        keep = np.random.default_rng(trial).choice(len(x_tr), max_train, replace=False)
        x_tr, y_tr = x_tr[keep], y_tr[keep]
    mu, sd = x_tr.mean(0), x_tr.std(0)
    sd[sd == 0] = 1.0
    return (x_tr - mu) / sd, (x_te - mu) / sd, y_tr, y_te


def make_detectors(names: list[str], trial: int) -> dict[str, Callable[[], object]]:
    """Factories for the named detectors, seeded by ``trial``."""
    out: dict[str, Callable[[], object]] = {}
    for name in names:
        if name.startswith("aekit"):
            from aekit.apps.detect import AnomalyDetector

            if name not in AEKIT_VARIANTS:
                raise SystemExit(f"unknown detector {name!r}; aekit variants: "
                                 f"{', '.join(AEKIT_VARIANTS)}")
            settings = AEKIT_VARIANTS[name]
            out[name] = lambda s=settings: AnomalyDetector(random_state=trial, **s)
            continue
        import pyod.models as pm  # noqa: F401  (the bench extra)

        if name == "AutoEncoder":
            from pyod.models.auto_encoder import AutoEncoder

            out[name] = lambda: AutoEncoder(random_state=trial, verbose=0)
        elif name == "VAE":
            from pyod.models.vae import VAE

            out[name] = lambda: VAE(random_state=trial, verbose=0)
        elif name == "IForest":
            from pyod.models.iforest import IForest

            out[name] = lambda: IForest(random_state=trial)
        elif name == "PCA":
            from pyod.models.pca import PCA

            out[name] = lambda: PCA(random_state=trial)
        elif name == "INNE":
            from pyod.models.inne import INNE

            out[name] = lambda: INNE(random_state=trial)
        elif name == "ECOD":
            from pyod.models.ecod import ECOD

            out[name] = lambda: ECOD()
        elif name == "KNN":
            from pyod.models.knn import KNN

            out[name] = lambda: KNN()
        else:
            raise SystemExit(f"unknown detector {name!r}")
    return out


def run(data_dir: Path, detectors: list[str], trials: int, max_train: int | None,
        datasets: list[str] | None = None) -> list[dict]:
    """Every (dataset, detector, trial) result as a row."""
    rows = []
    files = sorted(data_dir.glob("*.mat"))
    if datasets:
        files = [f for f in files if f.stem in datasets]
    for path in files:
        x, y = load_odds(path)
        for trial in range(trials):
            x_tr, x_te, _, y_te = split(x, y, trial, max_train)
            fitted = {}
            for name, factory in make_detectors(detectors, trial).items():
                torch.manual_seed(trial)
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if name in KTH_VARIANTS:  # recalibrates aekit's fit (listed first)
                        det = kth_over_refs(fitted["aekit"], x_tr, KTH_VARIANTS[name])
                    else:
                        det = fitted[name] = factory().fit(x_tr)
                    s = np.asarray(det.decision_function(x_te), dtype=np.float64)
                sec = time.perf_counter() - t0
                finite = bool(np.isfinite(s).all())
                if not finite:  # rank non-finite scores as the most anomalous
                    s = np.nan_to_num(s, nan=np.inf)
                    s = np.where(np.isposinf(s), np.finfo(np.float64).max, s)
                rows.append({"dataset": path.stem, "detector": name, "trial": trial,
                             "auroc": roc_auc_score(y_te, s),
                             "auprc": average_precision_score(y_te, s),
                             "seconds": sec, "finite": finite})
                print(f"{path.stem:<11} {name:<12} trial {trial}  AUROC {rows[-1]['auroc']:.3f}"
                      f"  AUPRC {rows[-1]['auprc']:.3f}  {sec:6.1f}s", flush=True)
    return rows


def summarise(rows: list[dict], detectors: list[str], max_train: int | None,
              trials: int, seconds: float) -> str:
    """The results as Markdown tables."""
    datasets = sorted({r["dataset"] for r in rows})

    def cell(ds: str, det: str, key: str) -> tuple[float, float]:
        v = [r[key] for r in rows if r["dataset"] == ds and r["detector"] == det]
        return float(np.mean(v)), float(np.std(v))

    lines = [
        "# ODDS outlier detection (PyOD protocol)",
        "",
        f"`python benchmarks/bench_odds.py --trials {trials}"
        + (f" --max-train {max_train}" if max_train else "")
        + f" --threads {torch.get_num_threads()} --detectors {','.join(detectors)}`",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{torch.get_num_threads()} torch thread(s), torch {torch.__version__}; "
        f"total {seconds / 60:.1f} min.",
        "60/40 split with `random_state=trial`, standardised with train statistics, fit on "
        "the contaminated train part, scored on the test part; mean ± std over "
        f"{trials} trials."
        + (f" Training parts above {max_train} rows (shuttle) are subsampled to "
           f"{max_train} rows for every detector." if max_train else ""),
        "",
    ]
    for key, title in (("auroc", "AUROC"), ("auprc", "AUPRC")):
        lines += [f"## {title}", "", "| dataset | " + " | ".join(detectors) + " |",
                  "|---|" + "---|" * len(detectors)]
        means = {d: [] for d in detectors}
        for ds in datasets:
            vals = {d: cell(ds, d, key) for d in detectors}
            best = max(v[0] for v in vals.values())
            cells = []
            for d in detectors:
                m, s = vals[d]
                means[d].append(m)
                txt = f"{m:.3f} ± {s:.3f}"
                cells.append(f"**{txt}**" if m == best else txt)
            lines.append(f"| {ds} | " + " | ".join(cells) + " |")
        lines.append("| **mean** | " + " | ".join(f"{np.mean(means[d]):.3f}"
                                                   for d in detectors) + " |")
        lines.append("")
    lines += ["## Seconds per fit + score (mean over trials)", "",
              "| dataset | " + " | ".join(detectors) + " |", "|---|" + "---|" * len(detectors)]
    for ds in datasets:
        lines.append(f"| {ds} | " + " | ".join(f"{cell(ds, d, 'seconds')[0]:.2f}"
                                               for d in detectors) + " |")
    nonfinite = sorted({(r["dataset"], r["detector"]) for r in rows if not r["finite"]})
    if nonfinite:
        lines += ["", "Non-finite scores (ranked as most anomalous): "
                  + ", ".join(f"{d} on {ds}" for ds, d in nonfinite)]
    if "aekit" in detectors:
        ours = {ds: cell(ds, "aekit", "auroc")[0] for ds in datasets}
        known = [ds for ds in datasets if ds in PUBLISHED_AE]
        wins = [ds for ds in known if ours[ds] > PUBLISHED_AE[ds]]
        losses = ", ".join(ds for ds in known if ds not in wins) or "none"
        lines += ["", f"aekit beats PyOD's published AutoEncoder AUROC on {len(wins)} of "
                  f"{len(known)} datasets (not on: {losses})."]
        if "AutoEncoder" in detectors:
            same = [ds for ds in datasets
                    if ours[ds] > cell(ds, "AutoEncoder", "auroc")[0]]
            lines.append(f"aekit beats PyOD's AutoEncoder in this run on {len(same)} of "
                         f"{len(datasets)} datasets.")
    return "\n".join(lines) + "\n"


ALL_REFS = ("aekit default, latent_kth over all 2048 reference codes (before the 512-code "
            "subset)")
REFS_256 = "aekit default, latent_kth over a 256-code subset (not adopted)"


def throughput(rows: int, features: int, train_rows: int, threads: int) -> str:
    """Scoring rows/s on ``rows`` x ``features`` (fitted on ``train_rows`` rows)."""
    from aekit.apps.detect import AnomalyDetector

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(5, features))
    make = lambda n: (rng.normal(size=(n, 5)) @ basis  # noqa: E731
                      + 0.3 * rng.normal(size=(n, features))).astype(np.float32)
    x_train, x_score = make(train_rows), make(rows)
    detectors: dict[str, Callable[[], object]] = {
        "aekit default (reconstruction+latent_kth, 3 models)": lambda: AnomalyDetector(),
        ALL_REFS: lambda: AnomalyDetector(),
        REFS_256: lambda: AnomalyDetector(),
        "aekit score_type='reconstruction+latent' (the former default), 3 models":
            lambda: AnomalyDetector(score_type="reconstruction+latent"),
        "aekit score_type='reconstruction', 1 model": lambda: AnomalyDetector(
            score_type="reconstruction", n_estimators=1),
    }
    try:
        from pyod.models.auto_encoder import AutoEncoder

        detectors["PyOD AutoEncoder"] = lambda: AutoEncoder(verbose=0, random_state=0)
    except ImportError:
        pass
    lines = ["## Scoring throughput", "",
             f"`python benchmarks/bench_odds.py --throughput --rows {rows} --threads "
             f"{threads}`: fit on "
             f"{train_rows} rows, then `decision_function` on {rows:,} rows x {features} "
             f"features (float32, synthetic); {os.cpu_count()} cores, {threads} torch "
             "thread(s).", "", "| detector | fit s | score s | rows/s |", "|---|---|---|---|"]
    for name, factory in detectors.items():
        det = factory()
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            det.fit(x_train)
            if name in (ALL_REFS, REFS_256):
                det = kth_over_refs(det, x_train, None if name == ALL_REFS else 256)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        det.decision_function(x_score)
        score_s = time.perf_counter() - t0
        lines.append(f"| {name} | {fit_s:.1f} | {score_s:.1f} | {rows / score_s:,.0f} |")
        print(lines[-1], flush=True)
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--detectors", default="aekit," + ",".join(PYOD_BASELINES))
    p.add_argument("--datasets", default=None, help="comma-separated subset (default: all)")
    p.add_argument("--max-train", type=int, default=10000)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1: fastest for these small nets on a shared CPU)")
    p.add_argument("--out", type=Path, default=None, help="write the Markdown tables here")
    p.add_argument("--json", type=Path, default=None, help="write every row here")
    p.add_argument("--throughput", action="store_true",
                   help="measure scoring rows/s on --rows x 30 features instead")
    p.add_argument("--rows", type=int, default=1_000_000)
    args = p.parse_args()
    if args.throughput:
        text = throughput(args.rows, 30, 20_000, args.threads)
        print(text)
        if args.out:
            args.out.write_text(text)
        return
    detectors = args.detectors.split(",")
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    rows = run(args.data_dir, detectors, args.trials, args.max_train,
               args.datasets.split(",") if args.datasets else None)
    text = summarise(rows, detectors, args.max_train, args.trials, time.perf_counter() - t0)
    print(text)
    if args.out:
        args.out.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
