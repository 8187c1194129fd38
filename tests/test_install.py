"""A non-editable install carries its configs: the console scripts work from any folder."""

import os
import subprocess
import sys

import pytest
from conftest import ROOT


@pytest.mark.slow
def test_installed_package_trains_from_an_empty_folder(tmp_path):
    site = tmp_path / "site"
    # --no-deps/--no-build-isolation: the packages of this environment, graphrec copied in.
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--target", str(site), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    assert (site / "graphrec" / "configs" / "train.yaml").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "WANDB_MODE": "offline"}
    # The module is read from the install, not the checkout (which is not on the path).
    code = ("import sys, graphrec.cli as c; assert c.__file__.startswith(sys.argv[1]), "
            "c.__file__; sys.argv = sys.argv[:1] + sys.argv[2:]; c.train_main()")
    proc = subprocess.run(
        [sys.executable, "-c", code, str(site), "trainer.max_epochs=2", "data=synthetic_tiny",
         "logger=csv", "task=[friend]", "hydra.run.dir=out"],
        cwd=empty, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (empty / "out" / "results.json").is_file()
