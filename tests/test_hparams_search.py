"""A two-trial Optuna search end to end: both trials run, the best one is reported."""

import json
import os
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT

pytest.importorskip("hydra_plugins.hydra_optuna_sweeper",
                    reason="hydra-optuna-sweeper not installed (pip install -e '.[sweep]')")


@pytest.mark.slow
def test_two_trial_optuna_search_reports_the_best_trial(tmp_path):
    # One thread: the tiny trials gain nothing from more, and a busy machine slows them a lot.
    env = {**os.environ, "GRAPHREC_LOG_DIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train.py"), "-m", "hparams_search=optuna",
         "debug=fast", "task=[friend]", "hydra.sweeper.n_trials=2", "trainer.max_epochs=2",
         "trainer.check_val_every_n_epoch=1"],
        capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep,) = tmp_path.glob("train/multiruns/*")
    trials = sorted(sweep.glob("*/results.json"))
    assert len(trials) == 2
    values = [json.loads(t.read_text())["val"]["val/score"] for t in trials]
    params = [yaml.safe_load((t.parent / ".hydra" / "overrides.yaml").read_text())
              for t in trials]
    assert params[0] != params[1]  # the sampler proposed two settings
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["name"] == "optuna"
    assert best["best_value"] == pytest.approx(max(values))
    assert set(best["best_params"]) == {"model.lr", "model.weight_decay",
                                        "model.encoder.hidden_channels",
                                        "model.encoder.dropout"}
