import numpy as np
from click.testing import CliRunner

from aekit.cli import cli


def test_reduce_writes_map_pca_and_csv(tmp_path):
    out = tmp_path / "map.png"
    res = CliRunner().invoke(cli, ["reduce", "--data", "digits", "--dim", "2", "--epochs",
                                   "2", "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    assert out.is_file() and (tmp_path / "map_pca.png").is_file()
    table = np.loadtxt(tmp_path / "map.csv", delimiter=",", skiprows=1)
    assert table.shape == (1797, 3)
    res = CliRunner().invoke(cli, ["reduce", "--data", "digits", "--dim", "3", "--epochs",
                                   "1", "--out", str(tmp_path / "m3.png"), "--quiet"])
    assert res.exit_code == 0, res.output
