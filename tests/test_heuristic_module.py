"""model=heuristic through the real train/evaluate entry points, and its leakage guard."""

import json
import time

import pytest
from conftest import make_cfg
from wandb_reader import run_contents

from graphrec.evaluate import evaluate
from graphrec.models.heuristics import HeuristicScorer
from graphrec.train import train
from graphrec.utils.errors import ConfigError

TASKS = "task=[friend,career]"


@pytest.fixture(scope="module")
def heuristic_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("heuristic")
    cfg = make_cfg(out, ["model=heuristic", "model.score=ra", TASKS,
                         "task.friend.full_ranking=true"])
    return out, train(cfg)


def test_heuristic_runs_without_training_and_writes_results_and_checkpoint(heuristic_run):
    out, results = heuristic_run
    saved = json.loads((out / "results.json").read_text())
    for split in ("val", "test"):
        for key in ("friend/mrr", "friend/auc", "career/mrr", "friend/full_mrr",
                    "friend/recall@10", "friend/mrr/deg_11+"):
            assert 0.0 < saved[split][f"{split}/{key}"] <= 1.0, key
    # Resource allocation on a community graph is far better than chance (MRR ~0.05).
    assert saved["test"]["test/friend/mrr"] > 0.2
    assert (out / "checkpoints" / "best.ckpt").is_file()
    assert not list((out / "csv").glob("*.csv")) or "train/loss" not in (
        out / "csv" / "metrics.csv").read_text()


def test_evaluate_from_heuristic_checkpoint_reproduces_test_metrics(heuristic_run, tmp_path):
    _, results = heuristic_run
    again = evaluate(make_cfg(tmp_path, [f"ckpt_path={results['best_ckpt']}"],
                              config_name="eval"))
    for key, value in results["test"].items():
        assert again["test"][key] == pytest.approx(value, abs=1e-6), key


def test_scores_use_only_the_splits_message_passing_graph(tmp_path, monkeypatch):
    seen = []
    fit = HeuristicScorer.fit

    def spy(self, edge_index):
        seen.append(edge_index.clone())
        return fit(self, edge_index)

    monkeypatch.setattr(HeuristicScorer, "fit", spy)
    cfg = make_cfg(tmp_path, ["model=heuristic", "model.score=cn", "task=[friend]"])
    train(cfg)
    from omegaconf import OmegaConf

    from graphrec.runtime import build_datamodule

    dm = build_datamodule(cfg.data, OmegaConf.to_container(cfg.task))
    dm.setup()
    split = dm.splits["friend"]
    # Users come first, so their global ids are their own ids; keys span all node types.
    n = sum(dm.graph[nt].num_nodes for nt in dm.graph.node_types)

    def keys(pairs):
        return set((pairs[0] * n + pairs[1]).tolist()) | set((pairs[1] * n + pairs[0]).tolist())

    assert len(seen) == 2  # one graph for val, one for test
    val_graph, test_graph = (keys(e) for e in seen)
    assert not keys(split.val) & val_graph and not keys(split.test) & val_graph
    assert not keys(split.test) & test_graph
    assert keys(split.val) <= test_graph  # val edges are test-time input, as in OGB
    assert keys(split.train) <= val_graph


def test_heuristic_segments_reach_wandb_as_a_table(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    results = train(make_cfg(tmp_path, ["logger=wandb", "model=heuristic", "task=[friend]"]))
    run_dir = next((tmp_path / "wandb").glob("offline-run-*"))
    # A table is a history entry pointing at its file (nested keys read as "a/b"). The
    # offline writer may still be flushing its last records when finish() returns.
    for _ in range(50):
        run = run_contents(next(run_dir.glob("run-*.wandb")))
        logged = [h for h in run["history"] if h.get("segments/_type") == "table-file"]
        if logged:
            break
        time.sleep(0.2)
    assert len(logged) == 1
    table = json.loads((run_dir / "files" / logged[0]["segments/path"]).read_text())
    rows = {(r[0], r[2]): dict(zip(table["columns"], r, strict=False)) for r in table["data"]}
    mrr = rows[("test", "deg_11+")]["mrr"]
    assert mrr == pytest.approx(results["test"]["test/friend/mrr/deg_11+"])
    for (split, segment), row in rows.items():
        assert row["n_pos"] == results[split][f"{split}/friend/n_pos/{segment}"]
    assert len(rows) == 6  # val and test, three segments each


def test_heuristic_rejects_node_tasks_and_unknown_scores(tmp_path):
    with pytest.raises(ConfigError, match="link tasks only"):
        train(make_cfg(tmp_path, ["model=heuristic", "task=[friend,sentiment]"]))
    with pytest.raises(ConfigError, match="no heuristic"):
        train(make_cfg(tmp_path, ["model=heuristic", "model.score=pagerank", "task=[friend]"]))


def _module(tiny_graph, score, tasks, options=None):
    from graphrec.heuristic_module import HeuristicModule

    specs = {nt: {"num_nodes": tiny_graph[nt].num_nodes} for nt in tiny_graph.node_types}
    return HeuristicModule(tiny_graph.metadata(), specs, tasks, score=score, options=options)


FRIEND = {"friend": {"kind": "link", "edge_type": ["user", "friends", "user"]}}
CAREER = {"career": {"kind": "link", "edge_type": ["user", "applied", "job"]}}


def test_ppr_is_symmetric_on_undirected_tasks_unless_turned_off(tiny_graph):
    import torch

    et = ("user", "friends", "user")
    pairs = torch.randint(0, tiny_graph["user"].num_nodes, (2, 40),
                          generator=torch.Generator().manual_seed(0))
    module = _module(tiny_graph, "ppr", FRIEND)
    scorer = module.scorer(tiny_graph, et, symmetric=True)
    torch.testing.assert_close(scorer(pairs), scorer(pairs.flip(0)))  # order-free
    one_sided = _module(tiny_graph, "ppr", FRIEND, {"symmetric": False}).scorer(
        tiny_graph, et, symmetric=True)
    assert not torch.allclose(one_sided(pairs), one_sided(pairs.flip(0)))
    torch.testing.assert_close(scorer(pairs), one_sided(pairs) + one_sided(pairs.flip(0)))
    # A directed task keeps the one-sided score.
    assert module.scorer(tiny_graph, et, symmetric=False).score_kwargs == {"symmetric": False}


def test_heuristic_passes_the_tasks_symmetry_to_ppr(tmp_path, monkeypatch):
    seen = []
    init = HeuristicScorer.__init__

    def spy(self, score, num_nodes, undirected=True, **kw):
        seen.append(kw.get("symmetric"))
        init(self, score, num_nodes, undirected, **kw)

    monkeypatch.setattr(HeuristicScorer, "__init__", spy)
    train(make_cfg(tmp_path, ["model=heuristic", "model.score=ppr", "task=[friend,career]",
                              "model.options={tol: 1e-6}"]))
    assert seen == [True, False, True, False]  # val then test; friend, then career


@pytest.mark.parametrize("override", ["model.options={beta: 0.01}",
                                      "model.options={beta: 0.01, max_length: 5}"])
def test_readme_katz_options_override_composes_and_reaches_the_score(tmp_path, override):
    # The README's `'model.options={beta: 0.01}'` (quotes are the shell's).
    cfg = make_cfg(tmp_path, ["model=heuristic", "model.score=katz", "task=[friend]", override])
    assert cfg.model.options.beta == 0.01
    import hydra

    module = hydra.utils.instantiate(cfg.model)(
        metadata=(["user"], [("user", "friends", "user")]),
        node_specs={"user": {"num_nodes": 3}}, tasks=dict(FRIEND))
    assert module.options["beta"] == 0.01
