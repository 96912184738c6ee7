"""Metrics: likelihood, reconstruction, sample quality, collapse, disentanglement, probes.

Every metric is one call, a pure function of a model and data: it never trains and
never plots (the jobs built on them, ``aekit eval`` and the rate-distortion sweep, are in
:mod:`aekit.apps`). ``docs/metrics.md`` says exactly what each computes.

>>> import aekit, torch
>>> from aekit import metrics
>>> model = aekit.create("vae", input_shape=(64,), latent_dim=4, likelihood="bernoulli")
>>> x = torch.rand(50, 64).round()
>>> nll = metrics.iwae_nll(model, x, k=16)          # -log p(x) estimate, nats  # doctest: +SKIP
>>> rep = metrics.collapse_report(model, x, warn=False)
>>> rep.latent_dim
4
"""

from aekit.metrics.collapse import (
    CollapseReport,
    PosteriorCollapseWarning,
    active_units,
    activity,
    collapse_report,
    kl_per_dimension,
    mutual_information,
)
from aekit.metrics.disentanglement import (
    beta_vae_score,
    dci,
    disentanglement_scores,
    factor_vae_score,
    mig,
    model_representation,
    sample_codes,
    sap,
)
from aekit.metrics.features import DatasetClassifier, FeatureExtractor, ModuleFeatures
from aekit.metrics.inception import FIDInceptionV3, inception_v3_features
from aekit.metrics.likelihood import bits_per_dim, iwae_nll, negative_elbo
from aekit.metrics.mmd import mmd_permutation_test
from aekit.metrics.rate_distortion import rate_distortion
from aekit.metrics.reconstruction import (
    mse,
    per_feature_error,
    psnr,
    reconstruction_scores,
    reconstructions,
    ssim,
)
from aekit.metrics.representation import (
    clustering_scores,
    knn_accuracy,
    linear_probe_accuracy,
    representation_scores,
    trustworthiness,
)
from aekit.metrics.sample_quality import (
    FrechetResult,
    fid,
    frechet_distance,
    gaussian_fit,
    inception_score,
    precision_recall,
)
from aekit.objectives import mmd2_unbiased

__all__ = [
    "CollapseReport",
    "DatasetClassifier",
    "FIDInceptionV3",
    "FeatureExtractor",
    "FrechetResult",
    "ModuleFeatures",
    "PosteriorCollapseWarning",
    "active_units",
    "activity",
    "beta_vae_score",
    "bits_per_dim",
    "clustering_scores",
    "collapse_report",
    "dci",
    "disentanglement_scores",
    "factor_vae_score",
    "fid",
    "frechet_distance",
    "gaussian_fit",
    "inception_score",
    "inception_v3_features",
    "iwae_nll",
    "kl_per_dimension",
    "knn_accuracy",
    "linear_probe_accuracy",
    "mig",
    "mmd2_unbiased",
    "mmd_permutation_test",
    "model_representation",
    "mse",
    "mutual_information",
    "negative_elbo",
    "per_feature_error",
    "precision_recall",
    "psnr",
    "rate_distortion",
    "reconstruction_scores",
    "reconstructions",
    "representation_scores",
    "trustworthiness",
    "sample_codes",
    "sap",
    "ssim",
]
