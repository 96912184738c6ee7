"""Which molecule-VAE training settings learn most per CPU-minute (MOSES, CPU).

Each named setting below trains :class:`aekit.apps.molecules.MoleculeVAE` for the same
wall-time budget on the same MOSES train molecules (1 torch thread), then measures what
training buys: held-out exact reconstruction (MOSES test molecules), validity and
uniqueness of prior samples, and the last epoch's loss terms. Run one setting per
process (two can share the machine), then assemble the table::

    nice python benchmarks/bench_moses_tune.py --setting old --minutes 6
    nice python benchmarks/bench_moses_tune.py --setting h128_lr3e-3 --minutes 6
    python benchmarks/bench_moses_tune.py --table

Each run writes benchmarks/results/moses_tune/<setting>.json; ``--table`` writes
benchmarks/results/moses_tune.md. Every setting has the same KL warm-up (500 steps), so
that the KL weight is the same at the end of each run.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch
from moses_common import read_column
from results_file import RESULTS, write_result

OLD = dict(tokenizer="selfies", hidden_size=256, embed_dim=64, batch_size=128,
           learning_rate=1e-3, free_bits=0.1, word_dropout=0.1, latent_dim=64)
SETTINGS = {
    "old": OLD,  # the defaults before this sweep
    "h128_lr3e-3": {**OLD, "hidden_size": 128, "learning_rate": 3e-3},
    "h128_lr3e-3_smiles": {**OLD, "hidden_size": 128, "learning_rate": 3e-3,
                           "tokenizer": "smiles"},
    "h256_lr3e-3": {**OLD, "learning_rate": 3e-3},
    "h128_lr3e-3_bs32": {**OLD, "hidden_size": 128, "learning_rate": 3e-3,
                         "batch_size": 32},
    "h128_lr3e-3_wd0": {**OLD, "hidden_size": 128, "learning_rate": 3e-3,
                        "word_dropout": 0.0},
}
FOLDER = RESULTS / "moses_tune"


def run(name: str, args: argparse.Namespace) -> None:
    from aekit.apps.molecules import MoleculeVAE
    from aekit.metrics.moses import unique_at, valid_smiles

    torch.set_num_threads(1)
    train = read_column(f"{args.data_dir}/train.csv.gz", limit=args.train_size)
    test = read_column(f"{args.data_dir}/test.csv.gz", limit=args.heldout)
    est = MoleculeVAE(**SETTINGS[name], kl_warmup_steps=500, epochs=100,
                      max_minutes=args.minutes, random_state=0, verbose=False)
    t0 = time.perf_counter()
    est.fit(train)
    seconds = time.perf_counter() - t0
    steps = est.model_.step
    fits = [m for m in test if est.tokenizer_.fits(m)]
    with torch.no_grad():  # teacher-forced token NLL and KL per held-out molecule
        torch.manual_seed(0)
        recon, kl = est.model_.elbo_terms(est.tokenizer_.encode(fits).float())
    gen = est.sample(args.samples, seed=1)
    valid = valid_smiles(gen)
    result = {"setting": name, "params": SETTINGS[name], "minutes": args.minutes,
              "train_size": len(train), "train_seconds": seconds, "steps": steps,
              "epochs": est.history_[-1]["epoch"], "last_epoch": est.history_[-1],
              "heldout_nll": float(recon.mean()), "heldout_kl": float(kl.sum(1).mean()),
              "history": est.history_,
              "reconstruction_heldout": est.reconstruction_accuracy(test),
              "reconstruction_train": est.reconstruction_accuracy(train[:len(test)]),
              "valid": len(valid) / len(gen),
              "unique": unique_at(valid, len(valid)) if valid else 0.0,
              "machine": platform.machine()}
    FOLDER.mkdir(parents=True, exist_ok=True)
    (FOLDER / f"{name}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def table() -> None:
    rows = [json.loads(p.read_text()) for p in sorted(FOLDER.glob("*.json"))]
    if not rows:
        raise SystemExit(f"no results in {FOLDER}")
    r0 = rows[0]
    lines = [
        "## Molecule VAE: training settings per CPU-minute (MOSES)", "",
        "`nice python benchmarks/bench_moses_tune.py --setting NAME --minutes "
        f"{r0['minutes']}` per row (two rows at a time), then `--table`. Shared 2-core "
        f"machine ({r0['machine']}), 1 torch thread per run, other jobs running beside; "
        f"{r0['train_size']} MOSES train molecules; KL warm-up 500 steps in every row; "
        "reconstruction on the first 500 MOSES test molecules (held out) and 500 train "
        "molecules; validity and uniqueness of 1000 prior samples.", "",
        "| setting | tokenizer | hidden | lr | batch | word dropout | train s | steps | epochs "
        "| held-out NLL | recon held-out | recon train | valid | unique | last epoch's mean "
        "recon NLL | last KL |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        p, last = r["params"], r["last_epoch"]
        lines.append(
            f"| {r['setting']} | {p['tokenizer']} | {p['hidden_size']} | "
            f"{p['learning_rate']:g} | {p['batch_size']} | {p['word_dropout']:g} | "
            f"{r['train_seconds']:.0f} | {r['steps']} | {r['epochs']} | "
            f"{r.get('heldout_nll', float('nan')):.2f} | "
            f"{r['reconstruction_heldout']:.3f} | {r['reconstruction_train']:.3f} | "
            f"{r['valid']:.3f} | {r['unique']:.3f} | {last.get('recon', float('nan')):.2f} | "
            f"{last.get('kl', float('nan')):.2f} |")
    lines += ["", "Read with care: the budget is epoch-granular (training stops before an epoch "
              "that would end past it), so the train seconds differ; the last epoch's NLL is "
              "a mean over that epoch's steps, and SMILES and SELFIES NLLs count different "
              "tokens. The steps column (optimiser steps done in the budget) and validity "
              "are the direct comparisons; 'held-out NLL' (teacher-forced token NLL of the "
              "held-out molecules) is measured only by runs made after it was added (nan "
              "otherwise)."]
    write_result(RESULTS / "moses_tune.md", lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--setting", choices=sorted(SETTINGS))
    ap.add_argument("--table", action="store_true", help="assemble moses_tune.md")
    ap.add_argument("--data-dir", default="/work/cache/moses")
    ap.add_argument("--train-size", type=int, default=30000)
    ap.add_argument("--minutes", type=float, default=6.0)
    ap.add_argument("--heldout", type=int, default=500)
    ap.add_argument("--samples", type=int, default=1000)
    args = ap.parse_args()
    if args.table:
        table()
    elif args.setting:
        run(args.setting, args)
    else:
        ap.error("give --setting NAME or --table")


if __name__ == "__main__":
    main()
