"""Non-finite scores are an error, never a rank: every metric path refuses them, and a run
that produces them (or a non-finite loss) stops with one line naming task and split/epoch."""

import os
import re
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, make_cfg
from nan_source import nan_graph_overrides

from graphrec.metrics.binary import average_precision, roc_auc
from graphrec.metrics.classification import binary_metrics, node_classification_metrics
from graphrec.metrics.official import official_metrics
from graphrec.metrics.ranking import sampled_ranks, shared_negative_hits
from graphrec.metrics.retrieval import full_ranking_metrics
from graphrec.runtime import USER_ERRORS
from graphrec.tasks.link_eval import evaluate_link
from graphrec.train import train
from graphrec.utils.errors import NonFiniteError, located

HINT = "the model produced non-finite outputs (check features for NaN/inf, lower model.lr)"
BAD = [float("nan"), float("inf"), float("-inf")]


def poisoned(shape, value, count=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g)
    x.view(-1)[torch.randperm(x.numel(), generator=g)[:count]] = value
    return x


@pytest.mark.parametrize("value", BAD)
def test_every_sampled_metric_refuses_non_finite_scores(value):
    pos, neg = torch.randn(20), torch.randn(20, 10)
    calls = [lambda p, n: sampled_ranks(p, n), lambda p, n: binary_metrics(p, n),
             lambda p, n: roc_auc(p, n), lambda p, n: average_precision(p, n),
             lambda p, n: shared_negative_hits(p, n.flatten(), 10)]
    for call in calls:
        with pytest.raises(NonFiniteError):
            call(poisoned(20, value), neg)
        with pytest.raises(NonFiniteError):
            call(pos, poisoned((20, 10), value))


def test_nan_positive_would_otherwise_rank_first():
    # Why the guard exists: NaN > x and NaN >= x are both false, so no negative beats it.
    pos, neg = torch.tensor([float("nan")]), torch.randn(1, 50)
    assert ((neg > pos).sum() + (neg >= pos).sum()).item() == 0
    with pytest.raises(NonFiniteError, match="1 of 51 scores are NaN"):
        sampled_ranks(pos, neg)


def test_message_counts_and_names_the_kinds():
    pos, neg = poisoned(200, float("nan"), 37), torch.randn(200, 20)
    with pytest.raises(NonFiniteError) as err, located("val/friend"):
        binary_metrics(pos, neg)
    assert str(err.value) == f"val/friend: 37 of 4,200 scores are NaN; {HINT}"
    neg[0, :2] = float("inf")
    with pytest.raises(NonFiniteError, match=r"39 of 4,200 scores are NaN or infinite "
                                             r"\(37 NaN, 2 \+inf\)"):
        binary_metrics(pos, neg)


@pytest.mark.parametrize("value", BAD)
def test_full_ranking_refuses_non_finite_scores_before_masking(value):
    query, cand = torch.randn(6, 4), torch.randn(9, 4)
    positives = torch.tensor([[0, 1, 2], [3, 4, 5]])
    exclude = torch.tensor([[0, 1], [0, 1]])  # masked to -inf inside: must stay allowed
    assert 0 < full_ranking_metrics(query, cand, positives, exclude)["mrr"] <= 1

    def score_fn(q, c):
        s = q @ c.T
        s[-1, 0] = value  # on a non-excluded entry, or on an excluded one for -inf
        return s

    with pytest.raises(NonFiniteError, match="of 27 scores"):
        full_ranking_metrics(query, cand, positives, exclude, score_fn=score_fn)

    def excluded_entry(q, c):
        s = q @ c.T
        s[0, 0] = value  # (0, 0) is excluded: the check runs before masking hides it
        return s

    with pytest.raises(NonFiniteError):
        full_ranking_metrics(query, cand, positives, exclude, score_fn=excluded_entry)


@pytest.mark.parametrize("value", BAD)
def test_official_ogb_metrics_refuse_non_finite_scores(value):
    with pytest.raises(NonFiniteError):
        official_metrics("ogbl-citation2", poisoned(30, value), torch.randn(30, 5))
    with pytest.raises(NonFiniteError):
        official_metrics("ogbl-collab", torch.randn(30), torch.randn(30, 5),
                         shared_neg=poisoned(100, value))


@pytest.mark.parametrize("value", BAD)
def test_node_classification_refuses_non_finite_logits(value):
    with pytest.raises(NonFiniteError, match="3 of 60 logits are"):
        node_classification_metrics(poisoned((20, 3), value), torch.randint(0, 3, (20,)))


def test_evaluate_link_checks_all_scores_once(tiny_graph):
    et = ("user", "friends", "user")
    target = {"pos": torch.tensor([[0, 1, 2], [3, 4, 5]]), "neg": torch.randint(0, 300, (3, 7))}

    def score(src, dst):
        s = (src * 0.01 + dst * 0.001).float()
        return torch.where((src == 1) & (dst == 4), float("nan"), s)

    with pytest.raises(NonFiniteError, match="1 of 24 scores are NaN"):
        evaluate_link(score, target, tiny_graph, et)


def test_non_finite_error_is_a_user_error():
    assert issubclass(NonFiniteError, USER_ERRORS)


def test_located_keeps_the_innermost_location():
    with pytest.raises(NonFiniteError, match="^test/content: 1 of 2"), located("outer"), \
            located("test/content"):
        raise NonFiniteError("1 of 2 scores are NaN")


def test_nan_loss_stops_training_naming_task_and_epoch(tmp_path):
    cfg = make_cfg(tmp_path, [*nan_graph_overrides(), "task=[content,friend]"])
    with pytest.raises(NonFiniteError) as err:
        train(cfg)
    # Tasks are checked in config order; content's loss is the first one that is NaN.
    assert str(err.value) == f"train/content: loss is NaN at epoch 0 (step 0); {HINT}"


def test_nan_scores_at_validation_name_split_and_task(tmp_path):
    cfg = make_cfg(tmp_path, [*nan_graph_overrides(), "task=[friend]", "trainer.max_epochs=1",
                                      "+trainer.limit_train_batches=0"])
    with pytest.raises(NonFiniteError) as err:
        train(cfg)
    assert re.fullmatch(rf"val/friend: [\d,]+ of [\d,]+ scores are NaN; {re.escape(HINT)}",
                        str(err.value))


@pytest.mark.slow
def test_cli_run_with_nan_features_exits_2_with_one_line(tmp_path):
    env = {**os.environ, "GRAPHREC_LOG_DIR": str(tmp_path),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train.py"), *nan_graph_overrides(),
         "task=[friend]", "logger=csv", "trainer.max_epochs=2"],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("graphrec: error:")]
    assert errors == [f"graphrec: error: train/friend: loss is NaN at epoch 0 (step 0); {HINT}"]
    assert "Traceback" not in proc.stderr
