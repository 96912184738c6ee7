"""Data-parallel training with torch.distributed (gloo, 2 CPU processes).

The processes are started with torch.multiprocessing; each runs the unchanged Trainer,
which finds the process group and wraps every parameter group in DDP."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import aekit
from aekit.data import load_data

KILL_AT_STEP = 22  # mid-epoch 3 of 4 (9 batches of 60 per epoch)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _data():
    return load_data("digits_flat").subset(torch.arange(600))


def _model(name: str, data):
    torch.manual_seed(0)
    return aekit.create(name, data=data, latent_dim=4, arch="mlp", hidden_dims=(32,))


def _cfg(**kw):
    return aekit.TrainConfig(**{"epochs": 4, "batch_size": 60, "progress": False, "seed": 3,
                                "val_fraction": 0.1, **kw})


def _worker(rank: int, size: int, port: int, scenario: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=size)
    try:
        data, out_dir = _data(), Path(out)
        if scenario == "same":
            model = _model("ae", data)
            aekit.Trainer(_cfg()).fit(model, data)
            adversarial = _model("aae", data)  # three groups, the encoder in two of them
            aekit.Trainer(_cfg(epochs=2)).fit(adversarial, data)
            torch.save(adversarial.state_dict(), out_dir / f"aae.rank{rank}.pt")
        elif scenario == "unbroken":  # each process names its own run folder: rank 1's
            model = _model("vae", data)  # must stay unwritten
            aekit.Trainer(_cfg(), run_dir=out_dir / f"unbroken{rank}").fit(model, data)
        elif scenario == "killed":
            model = _model("vae", data)
            set_step = model.set_step

            def die(step: int) -> None:
                if step == KILL_AT_STEP:
                    os._exit(1)  # no clean-up, as under kill -9
                set_step(step)

            model.set_step = die
            aekit.Trainer(_cfg(), run_dir=out_dir / "broken").fit(model, data)
        else:  # resume: a fresh process, a fresh model object
            torch.manual_seed(1234)
            model = aekit.create("vae", data=data, latent_dim=4, arch="mlp", hidden_dims=(32,))
            aekit.Trainer(_cfg(), run_dir=out_dir / "broken").fit(model, data, resume=True)
        torch.save(model.state_dict(), out_dir / f"{scenario}.rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _spawn(scenario: str, out: Path, size: int = 2) -> None:
    mp.start_processes(_worker, args=(size, _port(), scenario, str(out)), nprocs=size,
                       start_method="fork")


def _assert_close(a: dict, b: dict, atol: float) -> None:
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=0, atol=atol), (k, (a[k] - b[k]).abs().max())


def test_two_processes_give_the_weights_of_one_with_the_same_global_batch(tmp_path):
    data = _data()
    single = _model("ae", data)
    aekit.Trainer(_cfg()).fit(single, data)
    _spawn("same", tmp_path)
    ranks = [torch.load(tmp_path / f"same.rank{r}.pt") for r in (0, 1)]
    for k, v in ranks[0].items():
        assert torch.equal(v, ranks[1][k]), k  # the processes hold one model
    _assert_close(ranks[0], single.state_dict(), atol=1e-6)
    adversarial = [torch.load(tmp_path / f"aae.rank{r}.pt") for r in (0, 1)]
    start = _model("aae", data).state_dict()
    for k, v in adversarial[0].items():  # every group trained, in step in both processes
        assert torch.equal(v, adversarial[1][k]), k
        assert not v.is_floating_point() or not torch.equal(v, start[k]) or "prior" in k, k


def test_killed_mid_epoch_and_resumed_ends_with_the_unbroken_weights_and_only_rank_0_writes(
        tmp_path):
    _spawn("unbroken", tmp_path)
    run = tmp_path / "unbroken0"
    assert {p.name for p in run.iterdir()} >= {"metrics.jsonl", "train_config.json",
                                               "config.json", "model.safetensors",
                                               "checkpoints"}
    assert not (tmp_path / "unbroken1").exists()  # rank 1 wrote nothing
    with pytest.raises(mp.ProcessExitedException):
        _spawn("killed", tmp_path)
    assert not (tmp_path / "broken" / "model.safetensors").exists()
    _spawn("resume", tmp_path)
    unbroken = torch.load(tmp_path / "unbroken.rank0.pt")
    for r in (0, 1):
        resumed = torch.load(tmp_path / f"resume.rank{r}.pt")
        for k, v in unbroken.items():
            assert torch.equal(v, resumed[k]), k
    rows = (tmp_path / "broken" / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 8  # 4 epochs x (train, val), none repeated


def test_nproc_runs_the_same_command_under_torchrun(monkeypatch):
    from aekit.cli import train as train_cli

    argv = ["/venv/bin/aekit", "train", "vae", "--data", "digits", "--nproc", "2", "--out",
            "r", "--nproc=2"]
    cmd = train_cli.torchrun_command(2, argv)
    assert cmd[1:] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                       "-m", "aekit", "train", "vae", "--data", "digits", "--out", "r"]
    monkeypatch.setenv("LOCAL_RANK", "0")
    from click.testing import CliRunner

    from aekit.cli import cli

    res = CliRunner().invoke(cli, ["train", "vae", "--data", "digits", "--nproc", "2"])
    assert res.exit_code == 2 and "already runs under torchrun" in res.output
