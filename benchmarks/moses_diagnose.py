"""Why a trained molecule VAE's FCD is what it is: the decoder's language model, the
prior's holes, or the decoded molecules' sizes.

For a run folder written by bench_moses.py it measures, on held-out MOSES test molecules
that are not in the FCD/SNN reference (those after the first ``--reference-size``):

* the language model: teacher-forced token NLL per token and the ELBO per molecule
  (nats; an upper bound on -log p(string)) with z from the posterior, and the token NLL
  with z drawn from the prior instead (how much the decoder reads z); beside it the
  per-molecule NLL of the same molecules under MOSES' NGram (moses_baselines.NGram,
  fitted on the same train molecules), whose samples score a better FCD;
* the prior's holes: FCD/SNN of molecules decoded from prior codes, from posterior means
  of the held-out molecules (sampled and greedy), and of the held-out molecules
  themselves (the floor at this size);
* decoding artefacts: heavy-atom counts and token lengths of each set, the share of
  tiny molecules (< 10 heavy atoms), of rings of 8+ atoms (MOSES has none), of
  molecules passing MOSES' filters and of samples that ran to the maximum length;
  prior samples at lower temperatures.

::

    nice python benchmarks/moses_diagnose.py --run /work/cache/i14/moses_run_final \
        --train-size 30000

Writes benchmarks/results/moses_diagnose.md (and .json).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from moses_baselines import NGram
from moses_common import add_eval_args, read_column
from results_file import RESULTS, write_result

from aekit.apps.molecules import MoleculeVAE
from aekit.data.molecules import _quiet_rdkit
from aekit.metrics.moses import ChemNet, fcd, filters, fingerprints, snn, valid_smiles


def language_model(est: MoleculeVAE, smiles: list[str]) -> dict[str, float]:
    """Teacher-forced NLL of ``smiles`` (those the tokeniser fits): per token and per
    molecule with z ~ q(z|x), the ELBO per molecule, the KL, and the NLL with z ~ p(z)."""
    model = est.model_
    ids = est.tokenizer_.encode([s for s in smiles if est.tokenizer_.fits(s)]).float()
    tokens = float((ids[:, 1:] != 0).sum())  # scored tokens, <eos> included
    with torch.inference_mode():
        recon, kl = model.elbo_terms(ids)
        x = ids[:, :int((ids != 0).sum(1).max())]
        logits = model.teacher_forced_logits(model.prior.sample(len(x)), x)
        targets = x.long()[:, 1:]
        nll = torch.nn.functional.cross_entropy(logits, targets, ignore_index=0,
                                                reduction="sum")
    n = len(ids)
    return {"molecules": n, "tokens per molecule": tokens / n,
            "NLL/token, z~q": float(recon.sum()) / tokens,
            "NLL/molecule, z~q": float(recon.mean()), "KL/molecule": float(kl.sum(1).mean()),
            "-ELBO/molecule": float(recon.mean() + kl.sum(1).mean()),
            "NLL/token, z~p": float(nll) / tokens, "NLL/molecule, z~p": float(nll) / n}


def sizes(smiles: list[str], est: MoleculeVAE) -> dict[str, float]:
    """Heavy atoms (mean, 5/50/95 % quantiles, share < 10) of the valid molecules, the
    share with a ring of 8 or more atoms (none in MOSES, whose filters forbid them), the
    share passing MOSES' filters, and the share whose token string fills the model's
    maximum length."""
    chem = _quiet_rdkit()
    valid = valid_smiles(smiles)
    mols = [chem.MolFromSmiles(s) for s in valid]  # kept alive: RingInfo points into them
    atoms = np.array([m.GetNumHeavyAtoms() for m in mols])
    lengths = np.array([len(est.tokenizer_.split(s)) for s in valid])
    big_ring = [any(len(r) >= 8 for r in m.GetRingInfo().AtomRings()) for m in mols]
    q5, q50, q95 = np.quantile(atoms, [0.05, 0.5, 0.95])
    return {"heavy atoms mean": float(atoms.mean()), "q05": q5, "median": q50, "q95": q95,
            "share < 10 atoms": float((atoms < 10).mean()),
            "share with a ring of 8+": float(np.mean(big_ring)),
            "filters": filters(valid),
            "tokens mean": float(lengths.mean()),
            "share at max length": float((lengths >= est.tokenizer_.max_length).mean())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_eval_args(ap)
    ap.add_argument("--run", default="/work/cache/i14/moses_run_final")
    ap.add_argument("--train-size", type=int, default=30000,
                    help="train molecules the run saw (for the NGram comparison)")
    ap.add_argument("--heldout", type=int, default=1000)
    ap.add_argument("--out", default=str(RESULTS / "moses_diagnose.md"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)  # the ELBO's z ~ q and the z ~ p of the NLL rows
    data = Path(args.data_dir)
    est = MoleculeVAE.load(args.run)
    test = read_column(data / "test.csv.gz", limit=args.reference_size + args.heldout)
    ref, heldout = test[:args.fcd_size], test[args.reference_size:]
    snn_ref = fingerprints(test[:args.reference_size])

    lm = language_model(est, heldout)
    ngram = NGram().fit(read_column(data / "train.csv.gz", limit=args.train_size))
    logp = np.array([ngram.log_prob(s) for s in heldout])
    lm["NGram NLL/molecule"] = float(-logp[np.isfinite(logp)].mean())
    lm["NGram: molecules with an unseen character"] = float((~np.isfinite(logp)).sum())
    print(lm)

    codes = est.encode(heldout)
    sets = {"prior samples (T=1)": est.sample(args.heldout, seed=1),
            "prior samples (T=0.8)": est.sample(args.heldout, temperature=0.8, seed=1),
            "prior samples (T=0.6)": est.sample(args.heldout, temperature=0.6, seed=1),
            "posterior means, sampled (T=1)": est.decode(codes, greedy=False),
            "posterior means, greedy": est.decode(codes),
            "held-out test molecules": heldout}
    net = ChemNet()
    ref_stats = net.stats(ref)
    rows = {}
    for name, mols in sets.items():
        valid = valid_smiles(mols)
        rows[name] = {"valid": len(valid) / len(mols),
                      "FCD/Test": fcd(valid[:args.fcd_size], chemnet=net, ref_stats=ref_stats),
                      "SNN/Test": snn(valid, ref_fps=snn_ref), **sizes(mols, est)}
        print(name, rows[name])
    write_result(args.out, table(lm, rows, args, est))
    Path(args.out).with_suffix(".json").write_text(json.dumps(
        {"args": vars(args), "language_model": lm, "sets": rows}, indent=2, default=float))


def table(lm: dict[str, float], rows: dict[str, dict[str, float]],
          args: argparse.Namespace, est: MoleculeVAE) -> list[str]:
    """The markdown section."""
    last = est.history_[-1]
    keys = list(next(iter(rows.values())))
    return [f"## MOSES: where the molecule VAE's FCD comes from ({Path(args.run).name})", "",
            f"`nice python benchmarks/moses_diagnose.py {' '.join(sys.argv[1:])}`", "",
            f"Model: {args.run} ({last['epoch']} epochs, {last['step']} steps; settings "
            f"{json.dumps(est.get_params())}). {args.heldout} held-out MOSES test molecules "
            f"(after the first {args.reference_size}, so none is in the reference); FCD on "
            f"the first {args.fcd_size} valid molecules of each set against the first "
            f"{args.fcd_size} of MOSES test, SNN against the first {args.reference_size}. "
            "2-core machine shared with three other engineers' jobs.", "",
            "Language model on the held-out molecules (nats):", "",
            "| quantity | value |", "|---|---|",
            *[f"| {k} | {v:.3f} |" for k, v in lm.items()], "",
            "The NGram row is -log p(SMILES string) under MOSES' NGram fitted on the same "
            f"{args.train_size} train molecules (contexts up to 10, smoothing 0.01); the "
            "VAE's -ELBO bounds -log p(SELFIES string) from above.", "",
            "Decoded sets:", "",
            "| set | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|",
            *[f"| {name} | " + " | ".join(f"{r[k]:.3f}" for k in keys) + " |"
              for name, r in rows.items()]]


if __name__ == "__main__":
    main()
