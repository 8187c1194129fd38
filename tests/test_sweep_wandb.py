"""A multirun's runs share one W&B group, and the aggregate table is logged into it."""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT
from wandb_reader import read_records, run_contents


def _run_record(path):
    return next(r.run for r in read_records(path) if r.WhichOneof("record_type") == "run")


@pytest.mark.slow
def test_multirun_is_one_wandb_group_with_the_aggregate_table(tmp_path):
    env = {**os.environ, "GRAPHREC_LOG_DIR": str(tmp_path), "NETRC": str(tmp_path / "none"),
           "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"}
    env.pop("WANDB_API_KEY", None)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train.py"), "-m", "debug=fast", "task=[friend]",
         "logger=wandb", "seed=0,1", "trainer.max_epochs=1", "trainer.check_val_every_n_epoch=1"],
        capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (sweep,) = tmp_path.glob("train/multiruns/*")
    group = f"train-{sweep.name}"
    jobs = sorted(sweep.glob("[0-9]/wandb/offline-run-*/run-*.wandb"))
    assert len(jobs) == 2
    assert {_run_record(j).run_group for j in jobs} == {group}

    (agg,) = sweep.glob("wandb/offline-run-*/run-*.wandb")
    record = _run_record(agg)
    assert record.run_group == group and record.job_type == "aggregate"
    # The logged table holds the same rows as aggregate.json.
    (table_file,) = agg.parent.glob("files/media/table/aggregate_*.table.json")
    table = json.loads(table_file.read_text())
    rows = json.loads((sweep / "aggregate.json").read_text())
    assert table["columns"] == ["setting", "metric", "mean", "std", "n"]
    assert [r[1] for r in table["data"]] == [r["metric"] for r in rows]
    assert [r[4] for r in table["data"]] == [2] * len(rows)
    summary = run_contents(agg)["summary"]
    key = f"{rows[0]['setting']}/test/friend/mrr"
    mean = next(r["mean"] for r in rows if r["metric"] == "test/friend/mrr")
    assert summary[key] == pytest.approx(mean)
