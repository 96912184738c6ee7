"""aekit.chem: molecules in one namespace (needs ``pip install 'aekit[chem]'``).

This package only re-exports: tokenisers and files from :mod:`aekit.data.molecules`,
the SELFIES ring guard from :mod:`aekit.data.selfies_rings`,
the MOSES metrics and molecule properties from :mod:`aekit.metrics.moses`, and the
estimator from :mod:`aekit.apps.molecules` (the model itself is the registered
``seq_vae``, :mod:`aekit.models.seq_vae`).

>>> from aekit.chem import MoleculeTokenizer
>>> tok = MoleculeTokenizer("smiles").fit(["CCO", "c1ccccc1"])
>>> tok.decode(tok.encode(["CCO"]))
['CCO']
"""

from aekit.apps.molecules import MoleculeVAE, OptimizationResult
from aekit.data.molecules import (
    MoleculeTokenizer,
    SmilesFile,
    canonical,
    extract_moses,
    read_smiles,
    write_smiles_csv,
)
from aekit.data.selfies_rings import RingGuard, largest_ring
from aekit.metrics.moses import (
    PROPERTIES,
    ChemNet,
    fcd,
    filters,
    frag_similarity,
    internal_diversity,
    molecule_property,
    moses_metrics,
    novelty,
    scaf_similarity,
    snn,
    unique_at,
    validity,
)
from aekit.models.seq_vae import SequenceVAE

__all__ = [
    "PROPERTIES",
    "ChemNet",
    "MoleculeTokenizer",
    "MoleculeVAE",
    "OptimizationResult",
    "RingGuard",
    "SequenceVAE",
    "SmilesFile",
    "canonical",
    "extract_moses",
    "fcd",
    "filters",
    "frag_similarity",
    "internal_diversity",
    "largest_ring",
    "molecule_property",
    "moses_metrics",
    "novelty",
    "read_smiles",
    "scaf_similarity",
    "snn",
    "unique_at",
    "validity",
    "write_smiles_csv",
]
