"""Assemble BENCHMARKS.md from the result files the benchmark scripts write.

Each script in benchmarks/ writes its own section to benchmarks/results/<topic>.md (with
the command that produced it); this script concatenates them, in a fixed order, under
one header, so every number in BENCHMARKS.md comes from a file a script wrote.

    python benchmarks/collect.py
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent
ORDER = [
    # generative models, metrics, peers
    "vae_digits", "vae_digits_1thread", "metrics", "compare", "compare_8bit",
    # dimensionality reduction (issue 17)
    "reduce", "reduce_quality", "reduce_quality_mid", "reduce_quality_big",
    "reduce_quality_shuttle", "reduce_odds_seeds", "reduce_odds_seeds_s12", "reduce_seeds",
    "reduce_seeds_tsne", "reduce_heldout_s26", "reduce_heldout", "reduce_heldout_s24",
    "reduce_scale",
    "reduce_scale_2threads", "reduce_scale_2threads_s26", "reduce_scale_1m", "reduce_seeds_jitter1",
    "reduce_seeds_batch2048", "reduce_jitter", "reduce_jitter_cardio", "reduce_jitter_rank",
    "reduce_heldout_variants", "reduce_refine", "reduce_rank", "reduce_q1", "reduce_q2",
    "reduce_q3", "reduce_odds", "reduce_odds_seeds_s25", "reduce_odds_seeds_a",
    "reduce_odds_seeds_b",
    # anomaly detection (issue 13), denoising, code priors, GPU
    "anomaly", "anomaly_digits", "anomaly_recheck", "throughput", "timeseries", "denoise",
    "code_prior", "gpu", "gpu_steps", "nab_two_scales", "nab_diagnosis", "nab_delay",
    "anomaly_kth", "anomaly_kth256", "anomaly_lodo_kth", "nab_local", "nab_local_systems8",
    "nab_heldout", "nab_seeds", "nab_auprc", "nab_arrival",
    # molecules (issue 14)
    "moses_baselines", "moses", "moses_wd0", "moses_guard", "moses_guard6", "moses_long",
    "moses_long_guard", "moses_long_guard_t08", "moses_long_latent", "moses_100k",
    "moses_100k_t08", "moses_100k_benzenes", "moses_100k_benzenes_t08",
    "moses_optimize_ceiling", "moses_optimize", "moses_optimize_long", "moses_optimize_fb05",
]
HEADER = """# Benchmarks

Every number below was measured by a script in `benchmarks/`; each section names the
command that produced it and the machine it ran on. Re-run a script to refresh its
section (it rewrites `benchmarks/results/<topic>.md`), then `python benchmarks/collect.py`.
"""


def main() -> None:
    results = ROOT / "results"
    files = sorted(results.glob("*.md"), key=lambda p: (
        ORDER.index(p.stem) if p.stem in ORDER else len(ORDER), p.stem))
    parts = [HEADER] + [p.read_text().strip() + "\n" for p in files]
    (ROOT.parent / "BENCHMARKS.md").write_text("\n".join(parts))
    print(f"BENCHMARKS.md: {len(files)} sections")


if __name__ == "__main__":
    main()
