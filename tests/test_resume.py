"""A run killed with SIGKILL and resumed with one command ends exactly where an uninterrupted
run ends: same folder, same W&B run, identical test metrics."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import ROOT, make_cfg
from wandb_reader import run_contents

from graphrec.resume import config_differences, resume_argv
from graphrec.runtime import load_checkpoint
from graphrec.train import train
from graphrec.utils.errors import ConfigError, DataMissingError

# Long enough that the kill lands mid-run: validation (and last.ckpt) every 2 epochs.
RUN = ["data=synthetic_tiny", "task=[friend,sentiment]", "trainer.max_epochs=40",
       "trainer.check_val_every_n_epoch=2"]


def _env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("HYDRA_FULL_ERROR", "WANDB_API_KEY")}
    env.update(OMP_NUM_THREADS="1", GRAPHREC_LOG_DIR=str(tmp_path / "logs"),
               NETRC=str(tmp_path / "no-netrc"), WANDB_MODE="offline", **extra)
    return env


def _train_cli(args, env, **kw):
    return subprocess.Popen([sys.executable, str(ROOT / "scripts" / "train.py"), *args],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, **kw)


def _kill_after_first_checkpoint(run_dir, args, env):
    """Starts a training run and SIGKILLs its whole process group once last.ckpt exists."""
    proc = _train_cli([*args, f"hydra.run.dir={run_dir}"], env)
    last = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    while not last.exists():
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "no checkpoint within 300 s"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    return last


def _resume(run_dir, env):
    proc = _train_cli([f"resume={run_dir}"], env)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    return json.loads((run_dir / "results.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("logger", ["csv", "wandb"])
def test_killed_run_resumes_to_identical_test_metrics(tmp_path, logger):
    args = [*RUN, f"logger={logger}"]
    env = _env(tmp_path)
    run_dir = tmp_path / "killed"
    last = _kill_after_first_checkpoint(run_dir, args, env)
    # The killed run claims nothing: no results, and it stopped before its last epoch.
    assert not (run_dir / "results.json").exists()
    stopped_at = torch.load(last, map_location="cpu", weights_only=True)["epoch"]
    assert stopped_at < 39
    if logger == "wandb":
        first_id = (run_dir / "wandb_run_id").read_text().strip()
        for f in (run_dir / "wandb").glob("offline-run-*/run-*.wandb"):
            summary = run_contents(f)["summary"] if f.stat().st_size else {}
            assert not any(k.startswith("test/") for k in summary)

    resumed = _resume(run_dir, env)
    # The uninterrupted run of the same command, as a subprocess with the same environment
    # (thread count included: sums over two threads run in another order than over one).
    whole_dir = tmp_path / "whole"
    proc = _train_cli([*args, f"hydra.run.dir={whole_dir}"], env)
    err = proc.communicate(timeout=600)[1]
    assert proc.returncode == 0, err[-3000:]
    whole = json.loads((whole_dir / "results.json").read_text())
    assert resumed["test"] == whole["test"]
    assert resumed["val"] == whole["val"] and resumed["best_epoch"] == whole["best_epoch"]
    assert resumed["best_ckpt"] == str(run_dir / "checkpoints" / "best.ckpt")
    if logger == "wandb":
        runs = sorted((run_dir / "wandb").glob("offline-run-*"))
        assert len(runs) == 2 and all(r.name.endswith(f"-{first_id}") for r in runs)
        summary = run_contents(next(runs[-1].glob("run-*.wandb")))["summary"]
        assert summary["test/friend/mrr"] == pytest.approx(resumed["test"]["test/friend/mrr"])


@pytest.fixture(scope="module")
def friend_ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("friend")
    cfg = make_cfg(out, ["task=[friend]", "trainer.max_epochs=2",
                         "trainer.check_val_every_n_epoch=1"])
    train(cfg)
    return out / "checkpoints" / "last.ckpt"


def test_checkpoint_of_other_tasks_is_refused_naming_them(friend_ckpt, tmp_path):
    cfg = make_cfg(tmp_path, ["task=[friend,career]", f"ckpt_path={friend_ckpt}"])
    with pytest.raises(ConfigError, match=r"task=\[friend\] -> task=\[friend,career\]"):
        train(cfg)


def test_checkpoint_of_other_data_seed_is_refused(friend_ckpt, tmp_path):
    cfg = make_cfg(tmp_path, ["task=[friend]", "trainer.max_epochs=2",
                              "trainer.check_val_every_n_epoch=1", "data.source.seed=1",
                              f"ckpt_path={friend_ckpt}"])
    with pytest.raises(ConfigError, match=r"data.source.seed=0 -> data.source.seed=1"):
        train(cfg)


def test_checkpoint_of_changed_data_is_refused_by_fingerprint(friend_ckpt, tmp_path):
    state = load_checkpoint(friend_ckpt)
    state["graphrec"]["provenance"]["data_fingerprint"] = "0" * 16
    edited = tmp_path / "edited.ckpt"
    torch.save(state, edited)
    cfg = make_cfg(tmp_path, ["task=[friend]", "trainer.max_epochs=2",
                              "trainer.check_val_every_n_epoch=1", f"ckpt_path={edited}"])
    with pytest.raises(ConfigError, match="data fingerprint differs"):
        train(cfg)


def test_resume_argv_replays_the_runs_overrides(tmp_path):
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "last.ckpt").write_bytes(b"x")
    (run / ".hydra" / "overrides.yaml").write_text(
        "- data=synthetic_tiny\n- seed=3\n- resume=/old\n- ckpt_path=/old.ckpt\n")
    argv = resume_argv([f"resume={run}"])
    assert argv == ["data=synthetic_tiny", "seed=3", f"hydra.run.dir={run.resolve()}",
                    f"resume={run.resolve()}"]
    assert resume_argv(["seed=1"]) == ["seed=1"]
    with pytest.raises(DataMissingError, match="checkpoints/last.ckpt does not exist"):
        (run / "checkpoints" / "last.ckpt").unlink()
        resume_argv([f"resume={run}"])


def test_config_differences_ignore_only_paths_and_checkpoints():
    a = {"seed": 0, "paths": {"output_dir": "a"}, "ckpt_path": None,
         "task": {"friend": {"kind": "link"}}, "model": {"lr": 0.01}}
    b = {**a, "paths": {"output_dir": "b"}, "resume": "b", "model": {"lr": 0.02}}
    assert config_differences(a, a) == []
    assert config_differences(a, b) == ["model.lr=0.01 -> model.lr=0.02"]
    # What lives under the run folder follows it; a real path change is still a difference.
    c = {**a, "trainer": {"root": "a/ckpts"}, "data": {"root": "/data/x"}}
    d = {**c, "paths": {"output_dir": "b"}, "trainer": {"root": "b/ckpts"}}
    assert config_differences(c, d) == []
    assert config_differences(c, {**d, "data": {"root": "/data/y"}}) == [
        "data.root=/data/x -> data.root=/data/y"]
