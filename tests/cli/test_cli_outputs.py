"""One output policy over every command that writes: never over an input, never inside
a folder being read, never over an existing file without --force, suffix checked; a run
folder in use is locked; a new run never replaces an old one."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from cli_helpers import invoke, one_line_error

import aekit
from aekit.outputs import LOCK_FILE, RunLock


@pytest.fixture(scope="module")
def files(tmp_path_factory, digits):
    """An untrained vae model folder, a CSV table, a digits .npy and a fitted detector."""
    root = tmp_path_factory.mktemp("outputs")
    aekit.create("vae", data=digits, latent_dim=2, hidden_dims=(16,), arch="mlp").save(
        root / "run")
    rng = np.random.default_rng(0)
    table = root / "t.csv"
    np.savetxt(table, rng.normal(size=(60, 3)), delimiter=",", header="a,b,c", comments="")
    arr = root / "x.npy"
    np.save(arr, digits.x[:40].numpy())
    res = invoke("detect", "fit", "--data", table, "--out", root / "det", "--epochs", 1,
                 "--n-estimators", 1, "--set", "hidden_dims=(8,)", "--quiet")
    assert res.exit_code == 0, res.output
    return root


def snapshot(folder):
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("args, needle", [
    # reduce writes OUT.csv beside OUT.png: t.png would replace the input t.csv
    (["reduce", "--data", "{r}/t.csv", "--out", "{r}/t.png"], "never overwrites its input"),
    (["reduce", "--data", "{r}/t.csv", "--out", "{r}/map.csv"], "written as .png"),
    (["sample", "{r}/run", "--out", "{r}/run/model.safetensors"], "inside"),
    (["sample", "{r}/run", "--out", "{r}/run/grid.png"], "inside"),
    (["sample", "{r}/run", "--out", "{r}/t.csv"], "written as .png"),
    (["interpolate", "{r}/run", "--data", "digits", "--from", "0", "--to", "1", "--out",
      "{r}/run/model.safetensors"], "inside"),
    (["interpolate", "{r}/run", "--data", "{r}/x.npy", "--from", "0", "--to", "1", "--out",
      "{r}/x.npy"], "never overwrites its input"),
    (["detect", "score", "{r}/det", "--data", "{r}/t.csv", "--out",
      "{r}/det/detector.safetensors"], "inside"),
    (["detect", "score", "{r}/det", "--data", "{r}/t.csv", "--out", "{r}/s.csv", "--report",
      "{r}/det/member_0/model.safetensors"], "inside"),
    (["detect", "score", "{r}/det", "--data", "{r}/t.csv", "--out", "{r}/t.csv"],
     "never overwrites its input"),
    (["detect", "fit", "--data", "{r}/t.csv", "--out", "{r}/det"], "already holds"),
    (["denoise", "apply", "{r}/run", "--data", "{r}/x.npy", "--out", "{r}/run/x.npy"],
     "inside"),
    (["denoise", "fit", "--data", "{r}/x.npy", "--out", "{r}/run"], "already holds"),
    (["train", "vae", "--data", "digits", "--out", "{r}/run"], "already holds"),
    (["train", "vae", "--data", "{r}/x.npy", "--out", "{r}/x.npy"], "never overwrites"),
    (["quickstart", "--out", "{r}/run"], "already holds"),
    (["compare", "--models", "ae", "--data", "digits", "--out", "{r}/det"], "already holds"),
])
def test_every_writing_command_refuses_to_write_over_what_it_reads(files, args, needle):
    before = snapshot(files)
    res = invoke(*[a.format(r=files) for a in args])
    one_line_error(res, needle)
    assert snapshot(files) == before  # nothing changed, nothing added


def test_existing_outputs_need_force_and_the_report_beside_out_counts(files, tmp_path):
    out = tmp_path / "s.csv"
    args = ["detect", "score", files / "det", "--data", files / "t.csv", "--out", out,
            "--show", 0]
    assert invoke(*args).exit_code == 0
    first = out.read_bytes()
    one_line_error(invoke(*args), "already exists", "--force")
    out.unlink()  # only the report.html beside it is left: still refused
    one_line_error(invoke(*args), "report.html", "already exists")
    assert invoke(*args, "--force").exit_code == 0
    assert out.read_bytes() == first
    grid = tmp_path / "g.png"
    grid.write_bytes(b"mine")
    one_line_error(invoke("sample", files / "run", "-n", 4, "--out", grid), "--force")
    assert grid.read_bytes() == b"mine"
    assert invoke("sample", files / "run", "-n", 4, "--out", grid, "--force").exit_code == 0
    assert grid.read_bytes()[:4] == b"\x89PNG"


def test_a_run_folder_in_use_is_locked(tmp_path):
    run = tmp_path / "run"
    with RunLock(run):  # as if another training (this live process) held it
        res = invoke("train", "ae", "--data", "digits", "--epochs", 1, "--out", run,
                     "--quiet")
        one_line_error(res, "in use", LOCK_FILE)
        assert sorted(p.name for p in run.iterdir()) == [LOCK_FILE]
    assert not (run / LOCK_FILE).exists()


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    import socket

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    (tmp_path / LOCK_FILE).write_text(f"{dead.stdout.strip()} {socket.gethostname()}")
    with RunLock(tmp_path) as lock:
        assert lock.path.read_text().split()[0] == str(os.getpid())
    with RunLock(tmp_path), pytest.raises(aekit.errors.ConfigError, match="in use"):
        RunLock(tmp_path).acquire()


def test_two_trainings_into_one_folder_at_once_the_second_fails(tmp_path):
    """Two real processes: one trains, the other starts while it holds the lock."""
    run = tmp_path / "run"
    import aekit.outputs

    # the holder imports aekit.outputs alone (a bare package: no torch), to start fast
    code = ("import sys, time, types; pkg = types.ModuleType('aekit'); "
            "pkg.__path__ = [sys.argv[2]]; sys.modules['aekit'] = pkg\n"
            "from aekit.outputs import RunLock\n"
            "with RunLock(sys.argv[1]):\n    print('locked', flush=True); time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(run),
                               os.path.dirname(aekit.outputs.__file__)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        res = invoke("train", "ae", "--data", "digits", "--epochs", 1, "--out", run,
                     "--quiet")
        one_line_error(res, "in use", f"process {holder.pid}")
    finally:
        holder.kill()
        holder.wait()


def test_train_into_an_existing_run_needs_resume_or_force(tmp_path):
    run = tmp_path / "run"
    base = ["train", "ae", "--data", "digits", "--epochs", 1, "--out", run, "--quiet",
            "--set", "hidden_dims=(8,)", "--latent-dim", 2]
    assert invoke(*base).exit_code == 0
    before = snapshot(run)
    one_line_error(invoke(*base), "already holds", "config.json", "--force")
    assert snapshot(run) == before
    (run / "notes.txt").write_text("mine")
    assert invoke(*base, "--force").exit_code == 0
    assert (run / "notes.txt").read_text() == "mine"
    assert not (run / LOCK_FILE).exists()
