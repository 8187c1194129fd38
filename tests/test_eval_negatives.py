"""HeaRT-style and shared evaluation negatives in the datamodule; OGB shared Hits@K."""

import pytest
import torch

from graphrec.data.datamodule import GraphDataModule
from graphrec.models.heuristics import resource_allocation
from graphrec.sources.synthetic import SyntheticSource
from graphrec.tasks.link_eval import shared_hits
from graphrec.utils.errors import ConfigError

FRIEND = ("user", "friends", "user")
TASKS = {"friend": {"kind": "link", "edge_type": list(FRIEND)}}


def _dm(**kw):
    d = GraphDataModule(SyntheticSource(num_users=200, community_size=20), TASKS,
                        num_eval_negatives=10, **kw)
    d.setup()
    return d


def _all_pairs(d):
    s = d.splits["friend"]
    every = torch.cat([s.train, s.val, s.test], 1)
    return set(map(tuple, every.T.tolist())) | set(map(tuple, every.flip(0).T.tolist()))


def test_heart_negatives_are_hard_non_edges_of_each_source():
    uniform, heart = _dm(), _dm(eval_negatives="heart")
    known = _all_pairs(heart)
    for split in ("val", "test"):
        t = heart.batches[split]["targets"]["friend"]
        pos, neg = t["pos"], t["neg"]
        assert neg.shape == uniform.batches[split]["targets"]["friend"]["neg"].shape
        pairs = {(int(u), int(v)) for u, row in zip(pos[0], neg, strict=True) for v in row}
        assert not pairs & known and all(u != v for u, v in pairs)
        # Scored on the split's own graph, they outrank uniform negatives by RA.
        graph = heart.batches[split]["graph"][FRIEND].edge_index
        src = pos[0][:, None].expand_as(neg)
        ra_h = resource_allocation(graph, torch.stack([src.reshape(-1), neg.reshape(-1)]), 200)
        un = uniform.batches[split]["targets"]["friend"]["neg"]
        ra_u = resource_allocation(graph, torch.stack([src.reshape(-1), un.reshape(-1)]), 200)
        assert ra_h.mean() > 2 * ra_u.mean()
    assert heart.split_fingerprint != uniform.split_fingerprint


def test_shared_negatives_are_non_edges_and_scored_by_ogb_hits():
    d = _dm(shared_negatives=2)
    known = _all_pairs(d)
    for split in ("val", "test"):
        t = d.batches[split]["targets"]["friend"]
        shared = t["shared_neg"]
        assert shared.shape == (2, 2 * t["pos"].size(1))
        assert not set(map(tuple, shared.T.tolist())) & known
        assert (shared[0] != shared[1]).all()


def test_shared_hits_matches_a_direct_count_with_ties():
    pos = torch.tensor([5.0, 3.0, 3.0, 1e6, -1e6])
    neg = torch.tensor([4.0, 3.0, 2.0, 0.0])
    # Hits@K: a positive counts when strictly above the K-th best negative (ties lose).
    out = shared_hits(pos, neg, [1, 2, 3])
    for k in (1, 2, 3):
        kth = neg.sort(descending=True).values[k - 1]
        assert out[f"shared_hits@{k}"] == pytest.approx((pos > kth).float().mean().item())


def test_unknown_eval_negatives_is_a_config_error():
    with pytest.raises(ConfigError, match="heart"):
        GraphDataModule(SyntheticSource(num_users=50), TASKS, eval_negatives="hard")


def test_evaluate_ranks_a_checkpoint_against_heart_negatives(tmp_path):
    from conftest import make_cfg

    from graphrec.evaluate import evaluate
    from graphrec.train import train

    trained = train(make_cfg(tmp_path / "run", ["task=[friend]", "trainer.max_epochs=4"]))
    cfg = make_cfg(tmp_path / "eval", [f"ckpt_path={trained['best_ckpt']}"], "eval")
    same = evaluate(cfg)["test"]
    assert same["test/friend/mrr"] == pytest.approx(trained["test"]["test/friend/mrr"])
    cfg = make_cfg(tmp_path / "heart", [f"ckpt_path={trained['best_ckpt']}",
                                        "eval_negatives=heart"], "eval")
    hard = evaluate(cfg)["test"]
    # Same positives, harder negatives: the ranking metric drops.
    assert hard["test/friend/mrr"] < same["test/friend/mrr"]
