import numpy as np
from click.testing import CliRunner
from sklearn.datasets import load_digits

from aekit.apps.reduce import AutoencoderReducer
from aekit.cli import cli


def test_reduce_writes_map_pca_csv_and_reducer_then_apply_maps_new_rows(tmp_path):
    out = tmp_path / "map.png"
    res = CliRunner().invoke(cli, ["reduce", "--data", "digits", "--dim", "2", "--epochs",
                                   "1", "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    assert out.is_file() and (tmp_path / "map_pca.png").is_file()
    table = np.loadtxt(tmp_path / "map.csv", delimiter=",", skiprows=1)
    assert table.shape == (1797, 3)
    reducer = AutoencoderReducer.load(tmp_path / "map_reducer")
    # apply: new rows (as a CSV file) go through the saved encoder, nothing re-fitted
    digits = load_digits()
    new = tmp_path / "new.csv"
    np.savetxt(new, digits.data[:40] / 16.0, delimiter=",",
               header=",".join(f"p{i}" for i in range(64)), comments="")
    res = CliRunner().invoke(cli, ["reduce", "apply", "--reducer", str(tmp_path / "map_reducer"),
                                   "--data", str(new), "--out", str(tmp_path / "new_codes.csv"),
                                   "--plot", str(tmp_path / "new.png")])
    assert res.exit_code == 0, res.output
    codes = np.loadtxt(tmp_path / "new_codes.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(codes, reducer.transform(digits.data[:40] / 16.0),
                               rtol=1e-5, atol=1e-5)  # the CSV keeps 6 significant digits
    np.testing.assert_allclose(codes, table[:40, :2], rtol=1e-5, atol=1e-4)
    assert (tmp_path / "new.png").is_file()


def test_reduce_apply_refuses_a_table_of_the_wrong_width(tmp_path):
    res = CliRunner().invoke(cli, ["reduce", "--data", "digits", "--epochs", "1", "--out",
                                   str(tmp_path / "m.png"), "--quiet", "--objective",
                                   "reconstruction", "--dim", "3"])
    assert res.exit_code == 0, res.output
    bad = tmp_path / "bad.csv"
    np.savetxt(bad, np.ones((5, 7)), delimiter=",", header="a,b,c,d,e,f,g", comments="")
    res = CliRunner().invoke(cli, ["reduce", "apply", "--reducer", str(tmp_path / "m_reducer"),
                                   "--data", str(bad), "--out", str(tmp_path / "c.csv")])
    assert res.exit_code == 2 and "7 values" in res.output and "64" in res.output
    res = CliRunner().invoke(cli, ["reduce", "--out", str(tmp_path / "x.png")])
    assert res.exit_code == 2 and "--data" in res.output
