"""Opening a checkpoint never runs code from it: planted pickles and ``_target_``s are refused."""

import os
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, make_cfg

from graphrec.evaluate import evaluate
from graphrec.runtime import check_targets, load_checkpoint
from graphrec.train import train
from graphrec.utils.errors import ConfigError


class _Planted:
    """Unpickling this calls ``os.system``: what a malicious checkpoint would carry."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    res = train(make_cfg(out, ["task=[friend]", "trainer.max_epochs=2"]))
    return res["best_ckpt"]


def _eval_cli(path, *extra):
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "evaluate.py"), f"ckpt_path={path}",
         "hydra.run.dir=" + str(os.path.dirname(path)) + "/eval", *extra],
        capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_planted_pickle_is_refused_and_never_run(ckpt, tmp_path):
    marker = tmp_path / "pwned"
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    state["graphrec"]["payload"] = _Planted(marker)
    evil = tmp_path / "evil.ckpt"
    torch.save(state, evil)
    with pytest.raises(ConfigError, match="not tensors or plain data"):
        load_checkpoint(evil)
    proc = _eval_cli(evil)
    assert proc.returncode == 2, proc.stderr
    assert not marker.exists()
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("graphrec: error:") and "evil.ckpt" in last


def test_planted_target_in_stored_config_is_refused(ckpt, tmp_path):
    copied = tmp_path / "copied"
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    state["graphrec"]["config"]["data"]["source"] = {
        "_target_": "shutil.copyfile", "src": str(ckpt), "dst": str(copied)}
    evil = tmp_path / "target.ckpt"
    torch.save(state, evil)
    cfg = make_cfg(tmp_path / "eval", [f"ckpt_path={evil}"], config_name="eval")
    with pytest.raises(ConfigError, match="'shutil.copyfile', which is not a graphrec class"):
        evaluate(cfg)
    assert not copied.exists()


@pytest.mark.parametrize("target", [
    "graphrec.utils.results.os.system",  # a graphrec path that reaches another module
    "graphrec.train.main",  # a function, not a class
    "graphrec.no_such_module.Thing",
])
def test_only_graphrec_classes_pass(target):
    with pytest.raises(ConfigError, match="not a class of graphrec"):
        check_targets({"data": {"_target_": target}}, "x.ckpt")


def test_graphrec_classes_and_trusted_names_pass():
    check_targets({"data": {"_target_": "graphrec.data.datamodule.GraphDataModule",
                            "source": {"_target_": "mylab.Source"}}}, "x.ckpt",
                  trusted=["mylab.Source"])


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04garbage"])
def test_empty_and_garbage_files_are_one_line_errors(tmp_path, content):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(content)
    with pytest.raises(ConfigError, match="bad.ckpt"):
        load_checkpoint(bad)


def test_truncated_checkpoint_is_an_error(ckpt, tmp_path):
    data = open(ckpt, "rb").read()
    bad = tmp_path / "truncated.ckpt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ConfigError, match="truncated or corrupt"):
        load_checkpoint(bad)


def test_a_plain_state_dict_is_not_a_graphrec_checkpoint(tmp_path):
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, other)
    with pytest.raises(ConfigError, match="not written by graphrec training"):
        load_checkpoint(other)
