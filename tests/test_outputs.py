"""aekit.outputs: the output policy and the run lock."""

from __future__ import annotations

import pytest

from aekit.errors import ConfigError
from aekit.outputs import LOCK_FILE, RunLock, check_output


def test_check_output_rules(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    assert check_output(tmp_path / "new.png", inputs=[data, run, "digits"],
                        suffixes=(".png",)) == tmp_path / "new.png"
    cases = [
        (dict(out=data, inputs=[data]), "never overwrites its input"),
        (dict(out=tmp_path / "." / "data.csv", inputs=[data], force=True), "input"),
        (dict(out=run / "x.png", inputs=[run]), "inside"),
        (dict(out=run / "sub" / "x.png", inputs=[run], force=True), "inside"),
        (dict(out=tmp_path / "x.csv", suffixes=(".png",)), "written as .png"),
        (dict(out=data), "already exists; pass --force"),
        (dict(out=run), "is a folder"),
        (dict(out=data, folder=True), "is a file"),
        (dict(out=run, folder=True), "already holds config.json"),
        (dict(out=tmp_path, inputs=[data], folder=True), "holds the input"),
    ]
    for kwargs, needle in cases:
        with pytest.raises(ConfigError, match=needle):
            check_output(**kwargs)
    assert check_output(data, force=True) == data
    assert check_output(run, folder=True, owned=("model.safetensors",)) == run
    assert check_output(run, folder=True, force=True) == run


def test_run_lock_is_exclusive_and_released(tmp_path):
    with RunLock(tmp_path / "r") as lock:
        assert (tmp_path / "r" / LOCK_FILE).is_file()
        with pytest.raises(ConfigError, match="in use by process"):
            RunLock(tmp_path / "r").acquire()
        lock.release()
        RunLock(tmp_path / "r").acquire().release()
    assert not (tmp_path / "r" / LOCK_FILE).exists()
