"""Plots (PNG files) and the self-contained HTML report.

>>> from aekit.report import image_grid, Section, write_report
>>> png = image_grid(images, "out/grid.png")  # doctest: +SKIP
>>> write_report("out/report.html", title="Run", sections=[Section("Samples", images=[png])])
... # doctest: +SKIP
"""

from aekit.report.html import Section, format_value, metrics_table, write_report
from aekit.report.plots import (
    bar_chart,
    histogram,
    image_grid,
    image_strip,
    latent_map,
    line_plot,
    loss_curves,
    reconstruction_pairs,
)

__all__ = [
    "Section",
    "bar_chart",
    "format_value",
    "histogram",
    "image_grid",
    "image_strip",
    "latent_map",
    "line_plot",
    "loss_curves",
    "metrics_table",
    "reconstruction_pairs",
    "write_report",
]
