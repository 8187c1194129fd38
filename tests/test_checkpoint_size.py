"""Checkpoints sized to what they hold: a hashed n-gram table stores the rows training moved
(the rest are redrawn from the random state that drew them), lazy Adam stores the moments of
the rows it touched; both load back bitwise."""

import copy
import io

import pytest
import torch
from conftest import make_cfg
from hydra import compose, initialize_config_dir
from omegaconf import open_dict
from test_corpora import write_sst2
from torch import nn

from graphrec.evaluate import evaluate
from graphrec.optim import DenseSparseAdamW
from graphrec.runtime import CONFIG_DIR
from graphrec.text.hashed import HashedBowInput
from graphrec.train import train
from graphrec.utils.errors import ConfigError


def _roundtrip(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


@pytest.mark.parametrize("init", ["normal", "uniform"])
def test_table_stores_moved_rows_and_loads_back_bitwise(init):
    torch.manual_seed(3)
    table = HashedBowInput(4096, 16, sparse=True, init=init)
    with torch.no_grad():
        table.weight[torch.tensor([5, 77, 1000])] += 0.5
    state = _roundtrip(table.state_dict())
    assert "weight" not in state
    assert state["moved_rows"].tolist() == [5, 77, 1000]
    torch.manual_seed(99)  # another start: loading must not depend on the loader's own draw
    other = HashedBowInput(4096, 16, sparse=True, init=init)
    assert not torch.equal(other.weight, table.weight)
    other.load_state_dict(state)
    assert torch.equal(other.weight, table.weight)
    assert torch.equal(other.start_values(other.start_rng), table.start_values(table.start_rng))


def test_table_with_most_rows_moved_and_older_checkpoints_store_the_full_weight():
    table = HashedBowInput(64, 8)
    with torch.no_grad():
        table.weight.mul_(0.9)  # as dense weight decay does to every row
    state = table.state_dict()
    assert set(state) == {"weight"}
    other = HashedBowInput(64, 8)
    other.load_state_dict(state)  # a full weight, as checkpoints before compaction hold
    assert torch.equal(other.weight, table.weight)


def test_lazy_adam_state_keeps_touched_rows_and_a_resumed_step_is_identical():
    torch.manual_seed(0)
    emb, lin = nn.Embedding(1000, 8, sparse=True), nn.Linear(8, 1)
    opt = DenseSparseAdamW([*emb.parameters(), *lin.parameters()], lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        lin(emb(torch.randint(0, 50, (16,)))).sum().backward()
        opt.step()
    state = _roundtrip(opt.state_dict())
    touched = state["state"][0]
    assert "exp_avg" not in touched and touched["rows"].max() < 50
    assert touched["exp_avg_rows"].shape == (len(touched["rows"]), 8)
    assert "exp_avg" in state["state"][1]  # the dense Linear weight keeps its moments as they are
    emb2, lin2 = copy.deepcopy(emb), copy.deepcopy(lin)
    opt2 = DenseSparseAdamW([*emb2.parameters(), *lin2.parameters()], lr=0.01)
    opt2.load_state_dict(state)
    for o, e, li in ((opt, emb, lin), (opt2, emb2, lin2)):
        torch.manual_seed(5)
        o.zero_grad()
        li(e(torch.randint(0, 60, (16,)))).sum().backward()
        o.step()
    assert torch.equal(emb.weight, emb2.weight) and torch.equal(lin.weight, lin2.weight)


def test_sentiment_checkpoints_are_small_and_evaluate_to_the_trained_metrics(tmp_path):
    # The real SST-2 recipe (2^20 buckets, char n-grams, sparse gradients) on a fixture corpus:
    # a dense table would put 2^20 x 64 floats (256 MiB) into the file; the recipe writes no
    # last.ckpt (the optimizer state), only the best weights.
    root = write_sst2(tmp_path / "data" / "sst2")
    run = tmp_path / "run"
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["experiment=sentiment_sst2", "logger=csv",
                                          f"paths.data_dir={root.parent}", "trainer.max_epochs=2"])
    with open_dict(cfg):
        cfg.paths.output_dir = str(run)
    trained = train(cfg)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.ckpt"]
    size = (run / "checkpoints" / "best.ckpt").stat().st_size
    assert size < 2 * 2**20, size
    out = evaluate(make_cfg(tmp_path / "eval", [f"ckpt_path={trained['best_ckpt']}"],
                            config_name="eval"))
    assert out["test"] == trained["test"]


def test_best_checkpoint_holds_weights_last_holds_the_optimizer_too(tmp_path):
    run = tmp_path / "run"
    args = ["task=[friend]", "trainer.max_epochs=2", "trainer.check_val_every_n_epoch=1"]
    train(make_cfg(run, args))
    best = torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert "optimizer_states" not in best and "state_dict" in best and "graphrec" in best
    assert last["optimizer_states"] and last["callbacks"]
    # Continuing training needs the optimizer state: a best checkpoint is refused by name.
    with pytest.raises(ConfigError, match="holds weights only.*last.ckpt"):
        train(make_cfg(tmp_path / "again",
                       [*args, f"ckpt_path={run / 'checkpoints' / 'best.ckpt'}"]))
