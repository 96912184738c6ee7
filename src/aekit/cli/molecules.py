"""``aekit molecules``: train a molecule VAE, sample, evaluate with MOSES metrics, optimise."""

from __future__ import annotations

import json
from pathlib import Path

import click

from aekit.cli._common import force_option, writable
from aekit.errors import ConfigError

PROPERTY_CHOICES = ("qed", "logp", "sa", "penalized_logp")
HEAD_SAMPLE = "head_sample.csv"  # training molecules kept in the run for `optimize`


@click.group("molecules")
def command() -> None:
    """Molecules: a SELFIES/SMILES sequence VAE, MOSES metrics, latent-space search.

    Needs the chem extra: pip install 'aekit[chem]'.

    \b
    Examples:
      aekit molecules train --data train.csv.gz --out runs/mol --epochs 10
      aekit molecules sample runs/mol -n 10000 --out mols.csv
      aekit molecules evaluate mols.csv --reference test.csv.gz --train train.csv.gz
      aekit molecules optimize runs/mol --property qed
    """


def _echo_read(f) -> None:
    click.echo(f.summary())


@command.command("train")
@click.option("--data", "data_source", required=True, metavar="FILE",
              help="SMILES file: CSV with a 'smiles' column or .smi, plain or gzipped.")
@click.option("--out", required=True, help="Run folder to create.")
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop training before an epoch that would end past this budget.")
@click.option("--tokenizer", type=click.Choice(["selfies", "smiles"]), default="selfies",
              show_default=True)
@click.option("--latent-dim", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--hidden-size", type=click.IntRange(min=1), default=128, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=128, show_default=True)
@click.option("--limit", type=click.IntRange(min=2), default=None,
              help="Read only the first N molecules of --data.")
@click.option("--heldout-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.1, show_default=True,
              help="Share of --data held out to measure reconstruction.")
@click.option("--samples", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Prior samples measured in the report.")
@click.option("--optimize-budget", type=click.IntRange(min=0), default=200, show_default=True,
              help="RDKit evaluations of the report's QED optimisation (0: none).")
@click.option("--device", default="cpu", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@force_option
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train_command(data_source, out, epochs, max_minutes, tokenizer, latent_dim, hidden_size,
                  batch_size, limit, heldout_fraction, samples, optimize_budget, device, seed,
                  force, quiet) -> None:
    """Train on --data minus a held-out part; write the model, metrics.json, report.html.

    The report shows molecules drawn from the prior, the metric table (validity,
    uniqueness, novelty against the training molecules, internal diversity, filters,
    exact reconstruction of held-out and training molecules), a decoded interpolation
    between two held-out molecules, a QED optimisation curve and the loss curves.
    """
    import numpy as np

    from aekit.apps.molecules import MoleculeVAE, write_molecule_report
    from aekit.data.molecules import read_smiles, write_smiles_csv
    from aekit.metrics import moses
    from aekit.outputs import RunLock

    run = writable(out, data_source, folder=True, force=force)
    with RunLock(run):
        f = read_smiles(data_source, limit=limit)
        _echo_read(f)
        if len(f.smiles) < 20:
            raise ConfigError(f"{data_source}: {len(f.smiles)} molecules are too few to train "
                              "and hold out (need at least 20)")
        order = np.random.default_rng(seed).permutation(len(f.smiles))
        n_held = max(2, int(round(heldout_fraction * len(f.smiles))))
        held = [f.smiles[i] for i in order[:n_held]]
        train = [f.smiles[i] for i in order[n_held:]]
        est = MoleculeVAE(tokenizer=tokenizer, latent_dim=latent_dim, hidden_size=hidden_size,
                          batch_size=batch_size, epochs=epochs, max_minutes=max_minutes,
                          device=device, random_state=seed, verbose=not quiet)
        est.fit(train, run_dir=run)
        write_smiles_csv(run / HEAD_SAMPLE, train[:1000])
        gen = est.sample(samples, seed=seed)
        valid = moses.valid_smiles(gen)
        metrics = {"train_molecules": len(train), "heldout_molecules": len(held),
                   "skipped_lines": len(f.skipped), "epochs": est.history_[-1]["epoch"],
                   "valid": len(valid) / len(gen)}
        if valid:
            metrics.update({f"unique@{len(gen)}": moses.unique_at(valid, len(gen)),
                            "novelty": moses.novelty(valid, train),
                            "IntDiv": moses.internal_diversity(valid),
                            "filters": moses.filters(valid)})
        metrics["reconstruction_heldout"] = est.reconstruction_accuracy(held)
        metrics["reconstruction_train"] = est.reconstruction_accuracy(train[:len(held)])
        ends = [s for s in held if est.tokenizer_.fits(s)][:2]
        path = est.interpolate(*ends, steps=8) if len(ends) == 2 else None
        opt = (est.optimize(train[:500], "qed", budget=optimize_budget)
               if optimize_budget else None)
        if opt is not None:
            metrics.update({"qed_best_found": opt.best, "qed_best_in_head_sample": opt.train_best,
                            "qed_evaluations": opt.evaluations,
                            "qed_evaluations_to_beat_sample": opt.evaluations_to_beat})
        (run / "metrics.json").write_text(json.dumps(metrics, indent=2))
        report = write_molecule_report(run, title="Molecule VAE", samples=gen, metrics=metrics,
                                       interpolation=path, optimization=opt,
                                       history=est.history_, source=f"trained on {data_source}")
        click.echo(f"valid {metrics['valid']:.3f}, held-out reconstruction "
                   f"{metrics['reconstruction_heldout']:.3f}")
        click.echo(f"wrote {run} (estimator.json, model/, metrics.json) and {report}")


@command.command("sample")
@click.argument("run")
@click.option("-n", "n", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--out", required=True, help="CSV to write (a 'smiles' header row).")
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--ring-guard", default="on", show_default=True,
              help="SELFIES runs: 'on' (no ring larger than the training set's largest), "
                   "'off', or a largest ring size in atoms.")
@click.option("--close-benzenes/--no-close-benzenes", default=None,
              help="The ring guard's benzene rule: a ring closed at the end of an open "
                   "C=C-C=C-C=C path closes the benzene [default: on with the guard].")
@click.option("--device", default="cpu", show_default=True)
@force_option
def sample_command(run, n, out, temperature, seed, ring_guard, close_benzenes, device,
                   force) -> None:
    """Draw N molecules from the prior of a trained run and write them as CSV.

    Invalid decodings (possible with the SMILES tokeniser) are written as decoded, so
    that `evaluate` measures validity. With SELFIES the ring guard (MoleculeVAE's
    ring_guard) keeps every ring within the training molecules' largest.
    """
    from aekit.apps.molecules import MoleculeVAE
    from aekit.data.molecules import write_smiles_csv

    run_dir = Path(run)
    est = MoleculeVAE.load(run_dir, device=device)
    guard = {"on": None, "off": False}.get(ring_guard, ring_guard)
    if isinstance(guard, str):
        if not guard.isdigit() or int(guard) < 3:
            raise ConfigError(f"--ring-guard: 'on', 'off' or a ring size of at least 3 "
                              f"atoms, got {ring_guard!r}")
        guard = int(guard)
    est.set_params(**({"ring_guard": guard} if guard is not None else {}),
                   **({"close_benzenes": close_benzenes} if close_benzenes is not None else {}))
    est.ring_limit()  # a guard (or its rule) the run's tokenizer cannot use fails here
    out_path = writable(out, run_dir, suffixes=(".csv", ".gz"), force=force)
    gen = est.sample(n, temperature=temperature, seed=seed)
    write_smiles_csv(out_path, gen)
    limit = est.ring_limit()
    click.echo(f"wrote {len(gen)} molecules to {out_path}" + (
        f" (ring guard: rings of at most {limit} atoms"
        + (", open kekule benzenes closed" if est.closes_benzenes() else "")
        + f", {est.last_redraws_} redrawn)" if limit else ""))


@command.command("evaluate")
@click.argument("molecules")
@click.option("--reference", required=True, help="Test-set SMILES file (MOSES test.csv.gz).")
@click.option("--reference-scaffolds", default=None,
              help="Scaffold test set (MOSES test_scaffolds.csv.gz): adds the /TestSF rows.")
@click.option("--train", "train_file", default=None,
              help="Training SMILES file, for novelty (MOSES train.csv.gz).")
@click.option("--fcd-size", type=click.IntRange(min=2), default=None,
              help="Cap on molecules ChemNet reads per set (FCD is slow on a CPU).")
@click.option("--out", default=None, help="Also write the metrics to this JSON file.")
@force_option
def evaluate_command(molecules, reference, reference_scaffolds, train_file, fcd_size, out,
                     force) -> None:
    """MOSES metrics of generated MOLECULES (a CSV with a 'smiles' column, or .smi)."""
    from aekit.data.molecules import read_smiles
    from aekit.metrics.moses import moses_metrics

    inputs = [p for p in (molecules, reference, reference_scaffolds, train_file) if p]
    out_path = writable(out, *inputs, suffixes=(".json",), force=force) if out else None
    gen = read_smiles(molecules, canonicalize=False, keep_invalid=True)
    click.echo(f"{molecules}: {len(gen.smiles)} molecules, {len(gen.skipped)} invalid")
    ref = read_smiles(reference)
    _echo_read(ref)
    sf = read_smiles(reference_scaffolds) if reference_scaffolds else None
    train = read_smiles(train_file).smiles if train_file else None
    ks = tuple(k for k in (1000, 10000) if k <= len(gen.smiles)) or (len(gen.smiles),)
    result = moses_metrics(gen.smiles, train=train, test=ref.smiles,
                           test_scaffolds=sf.smiles if sf else None, ks=ks,
                           fcd_size=fcd_size)
    width = max(map(len, result))
    for key, value in result.items():
        click.echo(f"{key:<{width}}  {value:.4f}")
    if out_path is not None:
        out_path.write_text(json.dumps(result, indent=2))
        click.echo(f"wrote {out_path}")


@command.command("optimize")
@click.argument("run")
@click.option("--property", "prop", type=click.Choice(PROPERTY_CHOICES), default="qed",
              show_default=True)
@click.option("--data", "data_source", default=None,
              help="Molecules to fit the property head on [default: the run's "
                   f"{HEAD_SAMPLE}, its first 1000 training molecules].")
@click.option("--limit", type=click.IntRange(min=10), default=500, show_default=True,
              help="Molecules of the head's sample used.")
@click.option("--budget", type=click.IntRange(min=1), default=1000, show_default=True,
              help="RDKit property evaluations to spend on new molecules.")
@click.option("--out", default=None, help="Folder for optimize.json and report.html.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@force_option
def optimize_command(run, prop, data_source, limit, budget, out, device, seed,
                     force) -> None:
    """Search a trained run's latent space for molecules with a better property.

    Starts from the codes of the head's sample (--data), then rounds of proposals around
    the best codes so far, decoded, screened by a property head and scored with RDKit,
    until --budget evaluations are spent (MoleculeVAE.optimize). Prints the best found
    against the best of the sample, and when a new molecule first beat it. 'sa' is
    minimised, the other properties maximised.
    """
    from aekit.apps.molecules import MoleculeVAE, write_molecule_report
    from aekit.data.molecules import read_smiles

    run_dir = Path(run)
    est = MoleculeVAE.load(run_dir, device=device)
    if out is not None:
        writable(out, run_dir, *([data_source] if data_source else []), folder=True,
                 owned=("optimize.json", "report.html", "plots"), force=force)
    source = data_source or str(run_dir / HEAD_SAMPLE)
    f = read_smiles(source, limit=limit)
    _echo_read(f)
    est.set_params(random_state=seed)
    result = est.optimize(f.smiles, prop, budget=budget)
    beat = (f"first beaten at evaluation {result.evaluations_to_beat}"
            if result.evaluations_to_beat else "not beaten")
    click.echo(f"best {prop} {result.best:.4f} after {result.evaluations} evaluations "
               f"(best of the {result.train_evaluations} head molecules: "
               f"{result.train_best:.4f}, {beat})")
    for smiles, value in result.top[:5]:
        click.echo(f"  {value:.4f}  {smiles}")
    if out is not None:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "optimize.json").write_text(json.dumps(result.to_dict(), indent=2))
        report = write_molecule_report(folder, title=f"Optimising {prop}",
                                       samples=[s for s, _ in result.top],
                                       metrics={"best": result.best,
                                                "evaluations": result.evaluations,
                                                "head_sample_best": result.train_best,
                                                "evaluations_to_beat_it":
                                                    result.evaluations_to_beat},
                                       optimization=result, source=f"run {run_dir}")
        click.echo(f"wrote {folder / 'optimize.json'} and {report}")
