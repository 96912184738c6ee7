"""``aekit compare``: train several models with one budget and write a leaderboard."""

from __future__ import annotations

import click

from aekit.cli._common import (
    data_option,
    force_option,
    label_column_option,
    load_source,
    parse_settings,
    writable,
)
from aekit.errors import ConfigError


def parse_models(text: str) -> list[str]:
    """``"vae,beta_vae"`` -> ``["vae", "beta_vae"]`` (order kept, duplicates dropped)."""
    names = []
    for name in (n.strip() for n in text.split(",")):
        if name and name not in names:
            names.append(name)
    if not names:
        raise ConfigError("--models needs at least one model name, e.g. --models vae,ae")
    return names


def per_model_settings(pairs: tuple[str, ...]) -> dict[str, dict]:
    """``("beta_vae.beta=4",)`` -> ``{"beta_vae": {"beta": 4}}``."""
    out: dict[str, dict] = {}
    for pair in pairs:
        target, dot, rest = pair.partition(".")
        if not dot or "=" not in rest:
            raise ConfigError(f"--set expects MODEL.KEY=VALUE, got {pair!r}")
        out.setdefault(target.strip(), {}).update(parse_settings((rest,)))
    return out


@click.command("compare")
@click.option("--models", "model_list", required=True, metavar="NAMES",
              help="Comma-separated model names (see `aekit models`).")
@data_option
@label_column_option
@click.option("--epochs", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3,
              show_default=True)
@click.option("--latent-dim", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--hidden-dims", default="256,128", show_default=True,
              help="MLP widths shared by every model (encoder order).")
@click.option("--arch", default="mlp", show_default=True,
              help="Architecture shared by every model (mlp keeps peers comparable).")
@click.option("--test-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.2, show_default=True)
@click.option("--k", "k", type=click.IntRange(min=1), default=100, show_default=True,
              help="Importance samples for the NLL column.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--set", "settings", multiple=True, metavar="MODEL.KEY=VALUE",
              help="A setting of one model, e.g. --set beta_vae.beta=8.")
@click.option("--peers", type=click.Choice(["auto", "pythae", "none"]), default="auto",
              show_default=True,
              help="Also train pythae's versions of shared models: auto = when installed.")
@click.option("--inception-weights", type=click.Path(dir_okay=False), default=None,
              help="pytorch-fid's Inception weights: report FID instead of FID-<data>.")
@click.option("--binarize", type=click.Choice(["none", "fixed"]), default="none",
              show_default=True,
              help="fixed: binarise data in [0, 1] once (x ~ Bernoulli(x), seeded), so "
                   "Bernoulli likelihoods are true likelihoods (the nll column needs it for "
                   "grey levels).")
@click.option("--out", default="runs/compare", show_default=True, help="Output folder.")
@force_option
def command(model_list, data_source, label_column, epochs, batch_size, lr, latent_dim,
            hidden_dims, arch, test_fraction, k, seed, settings, peers, inception_weights,
            binarize, out, force) -> None:
    """Train every model in --models on --data with the same budget; write a leaderboard.

    Writes leaderboard.md, leaderboard.csv and leaderboard.html (with sample grids) to
    --out. With pythae installed (pip install 'aekit[bench]'), pythae's implementations
    of the models both libraries have are trained alongside with the same settings.

    \b
    Examples:
      aekit compare --models vae,beta_vae,ae --data digits --epochs 30
      aekit compare --models vae,iwae --data digits --set beta_vae.beta=8 --peers none
    """
    import importlib.util

    from aekit.apps.leaderboard import compare, write_leaderboard

    try:
        dims = tuple(int(h) for h in hidden_dims.split(",") if h.strip())
    except ValueError:
        raise ConfigError(f"--hidden-dims expects integers separated by commas, got "
                          f"{hidden_dims!r}") from None
    writable(out, data_source, folder=True, force=force)
    names = parse_models(model_list)
    extra = per_model_settings(settings)
    unknown = sorted(set(extra) - set(names))
    if unknown:
        raise ConfigError(f"--set names model(s) {unknown} that are not in --models")
    use_peers: tuple[str, ...] = ()
    if peers == "pythae" or (peers == "auto" and importlib.util.find_spec("pythae")):
        use_peers = ("pythae",)
        if peers == "auto":
            click.echo("pythae is installed: its versions of shared models are trained too "
                       "(--peers none to skip)")
    extractor = None
    if inception_weights is not None:
        from aekit.metrics.inception import inception_v3_features

        extractor = inception_v3_features(inception_weights)
    data = load_source(data_source, label_column)
    board = compare(names, data, epochs=epochs, batch_size=batch_size, lr=lr,
                    latent_dim=latent_dim, hidden_dims=dims, arch=arch,
                    test_fraction=test_fraction, k=k, seed=seed, model_settings=extra,
                    peers=use_peers, extractor=extractor, out_dir=out,
                    progress=lambda m: click.echo(m),
                    binarize=None if binarize == "none" else binarize)
    paths = write_leaderboard(board, out)
    click.echo("")
    click.echo(paths["md"].read_text(encoding="utf-8"))
    click.echo(f"wrote {paths['md']}, {paths['csv']} and {paths['html']}")
