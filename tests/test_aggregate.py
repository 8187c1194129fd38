import json

import pytest

from graphrec.utils.aggregate import aggregate


def _run(root, num, overrides, value):
    d = root / str(num)
    (d / ".hydra").mkdir(parents=True)
    (d / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (d / "results.json").write_text(json.dumps({"val": {}, "test": {"test/friend/mrr": value}}))


def test_groups_by_setting_ignoring_seed_with_unbiased_std(tmp_path):
    for i, (enc, seed, v) in enumerate([("sage", 0, 0.4), ("sage", 1, 0.5), ("sage", 2, 0.6),
                                        ("mlp", 0, 0.1), ("mlp", 1, 0.3)]):
        _run(tmp_path, i, [f"model/encoder={enc}", f"seed={seed}"], v)
    table = aggregate(tmp_path)
    assert "| model/encoder=sage | 3 | 0.5000 ± 0.1000 |" in table
    assert "| model/encoder=mlp | 2 | 0.2000 ± 0.1414 |" in table
    assert (tmp_path / "aggregate.csv").read_text().count("\n") == 3


def test_empty_sweep_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run folder"):
        aggregate(tmp_path)


def test_multirun_ends_with_an_aggregate_table(tmp_path):
    import os
    import subprocess
    import sys

    from conftest import ROOT

    env = {**os.environ, "GRAPHREC_LOG_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train.py"), "-m", "debug=fast", "task=[friend]",
         "seed=0,1", "trainer.max_epochs=2", "trainer.check_val_every_n_epoch=1"],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (table,) = tmp_path.glob("train/multiruns/*/aggregate.md")
    row = next(line for line in table.read_text().splitlines() if "debug=fast" in line)
    assert "| 2 |" in row
