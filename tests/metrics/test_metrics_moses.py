"""MOSES metrics on tiny sets whose values can be checked by hand (or by RDKit directly),
and ChemNet/FCD against fcd_torch's own implementation."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rdkit")
pytest.importorskip("fcd_torch")

from rdkit import Chem, DataStructs  # noqa: E402
from rdkit.Chem import QED, AllChem, Crippen  # noqa: E402

from aekit.data.molecules import read_smiles  # noqa: E402
from aekit.errors import DataError  # noqa: E402
from aekit.metrics import moses  # noqa: E402

FIXTURE = Path(__file__).parents[1] / "data" / "moses_300.csv"
A, B, C = "CCOc1ccccc1", "CC(=O)Nc1ccc(O)cc1", "c1ccc2ccccc2c1"


def _tanimoto(a: str, b: str) -> float:
    fa, fb = (AllChem.GetMorganFingerprintAsBitVect(Chem.MolFromSmiles(s), 2, nBits=1024)
              for s in (a, b))
    return DataStructs.TanimotoSimilarity(fa, fb)


def test_validity_counts_empty_and_unparsable_as_invalid():
    assert moses.validity(["CCO", "C1CC", "", "c1ccccc1"]) == 0.5
    assert moses.valid_smiles(["OCC", "x", "C(C)O"]) == ["CCO", "CCO"]


def test_unique_at_k_uses_the_first_k_valid_canonical_molecules():
    gen = ["CCO", "OCC", "invalid", "C", "N"]
    assert moses.unique_at(gen, 1) == 1.0
    assert moses.unique_at(gen, 2) == 0.5  # CCO twice
    assert moses.unique_at(gen, 3) == pytest.approx(2 / 3)
    assert moses.unique_at(gen, 100) == 0.75  # fewer than k valid: all of them


def test_novelty_counts_distinct_valid_molecules_not_in_train():
    assert moses.novelty(["OCC", "CCO", "CCN", "C", "bad"], train=["CCO"]) == pytest.approx(2 / 3)


def test_fingerprints_match_rdkit_morgan_bits():
    fp = moses.fingerprints([A])[0]
    ref = AllChem.GetMorganFingerprintAsBitVect(Chem.MolFromSmiles(A), 2, nBits=1024)
    assert fp.tolist() == list(ref)


def test_internal_diversity_by_hand():
    t = _tanimoto(A, B)
    assert moses.internal_diversity([A, A, A]) == pytest.approx(0.0)
    # pairs (i, j) with i = j included: mean similarity (1 + 1 + 2t) / 4
    assert moses.internal_diversity([A, B]) == pytest.approx(1 - (2 + 2 * t) / 4)
    p2 = 1 - np.sqrt((1 + t**2) / 2)
    assert moses.internal_diversity([A, B], p=2) == pytest.approx(p2)


def test_snn_is_the_mean_nearest_neighbour_similarity():
    assert moses.snn([A, B], [A, B, C]) == pytest.approx(1.0)
    expect = (max(_tanimoto(A, B), _tanimoto(A, C)) + 1.0) / 2  # A's nearest is B or C
    assert moses.snn([A, C], [B, C]) == pytest.approx(expect)


def test_filters():
    assert moses.passes_filters("CC(=O)Nc1ccc(O)cc1")
    assert not moses.passes_filters("C[NH3+]")  # charge
    assert not moses.passes_filters("C1CCCCCCC1")  # ring of 8
    assert not moses.passes_filters("CCP(C)C")  # phosphorus is not an allowed atom
    assert not moses.passes_filters("CCC=O")  # aldehyde: MCF [#6&!H0]=[#8]
    assert not moses.passes_filters("O=C1C(=Cc2ccccc2)SC(=S)N1")  # PAINS ene_rhod
    assert moses.filters(["CC(=O)Nc1ccc(O)cc1", "CCC=O", "bad"]) == 0.5


def test_frag_and_scaf_are_cosines_of_count_vectors():
    assert moses.frag_similarity([A, B], [B, A]) == pytest.approx(1.0)
    assert moses.frag_similarity(["CCO"], ["c1ccccc1"]) == 0.0  # no shared fragment
    two_rings = ["c1ccc(Cc2ccccc2)cc1", "c1ccc(Cc2ccccc2)cc1C", "c1ccc2ccccc2c1"]
    s = moses.scaffolds(two_rings + ["c1ccccc1"])  # benzene: 1 ring, not counted
    assert s == Counter({"c1ccc(Cc2ccccc2)cc1": 2, "c1ccc2ccccc2c1": 1})
    # gen scaffold counts (2, 0) vs ref (1, 1): cosine 2 / (2 * sqrt 2)
    assert moses.scaf_similarity(two_rings[:2], [two_rings[0], two_rings[2]]) == \
        pytest.approx(1 / np.sqrt(2))
    assert np.isnan(moses.scaf_similarity(["CCO"], two_rings))
    assert moses.count_cosine(Counter(a=1, b=2), Counter(a=2, b=4)) == pytest.approx(1.0)


def test_molecule_fragments_are_moses_brics_fragments():
    # MOSES' fragmenter: Chem.MolToSmiles(AllChem.FragmentOnBRICSBonds(mol)).split(".")
    for smiles in read_smiles(FIXTURE).smiles[:50]:
        mol = Chem.MolFromSmiles(smiles)
        expected = Chem.MolToSmiles(AllChem.FragmentOnBRICSBonds(mol)).split(".")
        assert sorted(moses.molecule_fragments(mol)) == sorted(expected)
    # paracetamol breaks at both bonds of its NH: acetyl, NH (two dummies), phenol
    frags = moses.molecule_fragments(Chem.MolFromSmiles(B))
    assert sorted(f.count("*") for f in frags) == [1, 1, 2]


def test_properties():
    mol = Chem.MolFromSmiles(B)
    assert moses.molecule_property(B, "qed") == pytest.approx(QED.qed(mol))
    assert moses.molecule_property(B, "logp") == pytest.approx(Crippen.MolLogP(mol))
    ring8 = "C1CCCCCCC1"
    pen = moses.molecule_property(ring8, "logp") - moses.molecule_property(ring8, "sa") - 2
    assert moses.molecule_property(ring8, "penalized_logp") == pytest.approx(pen)
    with pytest.raises(DataError, match="invalid SMILES"):
        moses.molecule_property("C1CC", "qed")


@pytest.fixture(scope="module")
def fixture_mols() -> list[str]:
    return read_smiles(FIXTURE).smiles


def test_chemnet_features_equal_fcd_torch_and_fcd_of_a_set_with_itself_is_zero(fixture_mols):
    from fcd_torch import FCD

    mols = fixture_mols[:8]  # ChemNet is slow on a CPU
    net = moses.ChemNet()
    ours = net.features(mols)
    theirs = FCD(device="cpu", n_jobs=1).get_predictions(mols)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert moses.fcd(mols, mols, chemnet=net) == pytest.approx(0.0, abs=1e-3)
    assert moses.fcd(mols[:4], mols[4:], chemnet=net) > 1.0


def test_moses_metrics_table(fixture_mols):
    gen = fixture_mols[:30] + ["", "C1CC"]
    out = moses.moses_metrics(gen, train=fixture_mols[:10], test=fixture_mols[100:130],
                              test_scaffolds=fixture_mols[200:230], ks=(10,), fcd_size=5)
    assert out["valid"] == 30 / 32
    assert out["unique@10"] == 1.0 and out["novelty"] == pytest.approx(20 / 30)
    assert set(out) >= {"IntDiv", "IntDiv2", "filters", "FCD/Test", "SNN/Test", "Frag/Test",
                        "Scaf/Test", "FCD/TestSF", "SNN/TestSF", "Frag/TestSF", "Scaf/TestSF"}
    assert 0 < out["SNN/Test"] < 1 and 0 < out["IntDiv"] < 1
