"""Molecule files and tokenisers: reading (bad lines skipped and named), SMILES and
SELFIES round trips, vocabulary errors, MOSES extraction from the molsets wheel."""

from __future__ import annotations

import gzip
import zipfile

import pytest

pytest.importorskip("rdkit")  # the chem extra is part of dev: CI runs these
pytest.importorskip("selfies")

from aekit.data.molecules import (  # noqa: E402
    MoleculeTokenizer,
    canonical,
    extract_moses,
    read_smiles,
    smiles_tokens,
    write_smiles_csv,
)
from aekit.errors import DataError  # noqa: E402


def test_reads_the_fixture_and_canonicalises(mols):
    assert len(mols) == 300
    assert all(canonical(s) == s for s in mols)


def test_unparsable_lines_are_skipped_named_and_counted(tmp_path):
    path = tmp_path / "m.csv.gz"
    path.write_bytes(gzip.compress(b"id,SMILES\n1,CCO\n2,C1CC\n3,c1ccccc1\n4,\n5,OCC\n"))
    f = read_smiles(path)
    assert f.smiles == ["CCO", "c1ccccc1", "CCO"]
    assert f.skipped == [(3, "C1CC"), (5, "")]
    assert "skipped 2 unparsable SMILES (line 3, 5)" in f.summary()
    kept = read_smiles(path, canonicalize=False, keep_invalid=True)
    assert kept.smiles == ["CCO", "C1CC", "c1ccccc1", "", "OCC"]


def test_smi_files_and_missing_column(tmp_path):
    smi = tmp_path / "m.smi"
    smi.write_text("CCO ethanol\nc1ccccc1\tbenzene\n")
    assert read_smiles(smi).smiles == ["CCO", "c1ccccc1"]
    bad = tmp_path / "bad.csv"
    bad.write_text("name,mass\nx,1\n")
    with pytest.raises(DataError, match=r"no column 'smiles'.*'name', 'mass'"):
        read_smiles(bad)
    nothing = tmp_path / "none.smi"
    nothing.write_text("xyz\n")
    with pytest.raises(DataError, match="no line holds a SMILES"):
        read_smiles(nothing)


def test_write_then_read(tmp_path, mols):
    path = write_smiles_csv(tmp_path / "out.csv.gz", mols[:10])
    assert gzip.decompress(path.read_bytes()).startswith(b"smiles\n")
    assert read_smiles(path).smiles == mols[:10]


def test_smiles_tokens():
    assert smiles_tokens("ClC(Br)c1cc[nH]c1%10") == [
        "Cl", "C", "(", "Br", ")", "c", "1", "c", "c", "[nH]", "c", "1", "%10"]
    with pytest.raises(DataError, match="cannot tokenise"):
        smiles_tokens("C&C")


@pytest.mark.parametrize("kind", ["selfies", "smiles"])
def test_round_trip_gives_the_same_molecule(kind, mols):
    tok = MoleculeTokenizer(kind).fit(mols)
    ids = tok.encode(mols)
    assert ids.shape == (300, tok.max_length + 2)
    assert (ids[:, 0] == 1).all()  # <bos>
    assert [canonical(s) for s in tok.decode(ids)] == mols
    again = MoleculeTokenizer.from_dict(tok.to_dict())
    assert again.tokens == tok.tokens and (again.encode(mols[:5]) == ids[:5]).all()


def test_out_of_vocabulary_and_too_long_are_clear_errors(mols):
    tok = MoleculeTokenizer("smiles").fit(["CCO", "CCN"])
    with pytest.raises(DataError, match=r"molecule 2 \(CCCl\): token\(s\) Cl are not in"):
        tok.encode(["CC", "CCCl"])
    with pytest.raises(DataError, match="more than the model's maximum of 3"):
        tok.encode(["CCCC"])
    assert not tok.fits("CCCl") and tok.fits("CCN")


def test_extract_moses_reads_only_the_data(tmp_path):
    wheel = tmp_path / "molsets-0.3.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for name in ("train", "test", "test_scaffolds"):
            z.writestr(f"moses/dataset/data/{name}.csv.gz", gzip.compress(b"SMILES\nCCO\n"))
    paths = extract_moses(wheel, tmp_path / "moses")
    assert set(paths) == {"train", "test", "test_scaffolds"}
    assert read_smiles(paths["train"]).smiles == ["CCO"]
    not_wheel = tmp_path / "x.whl"
    not_wheel.write_text("no")
    with pytest.raises(DataError, match="not a wheel"):
        extract_moses(not_wheel, tmp_path / "m2")
