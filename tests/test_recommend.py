"""recommend: top-K lists from a checkpoint, with raw ids, reasons and new users."""

import subprocess
import sys

import pandas as pd
import pytest
import torch
from conftest import ROOT, make_cfg

from graphrec.candidates import embed, known_pairs, top_k
from graphrec.new_nodes import add_nodes, raw_id_lists
from graphrec.recommend import recommend, recommend_frame
from graphrec.runtime import rebuild_from_checkpoint
from graphrec.train import train
from graphrec.utils.errors import ConfigError

FRIENDS = ("user", "friends", "user")
K = 20


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    res = train(make_cfg(out, ["task=[friend,career,content]", "trainer.max_epochs=2",
                               "trainer.check_val_every_n_epoch=1"]))
    return res["best_ckpt"]


def run(tmp_path, ckpt, *overrides):
    cfg = make_cfg(tmp_path, [f"ckpt_path={ckpt}", *overrides], config_name="recommend")
    res = recommend(cfg)
    return res, pd.read_parquet(res["out"]) if res["out"].endswith(".parquet") \
        else pd.read_csv(res["out"])


def neighbours(graph, et=FRIENDS):
    ei = graph[et].edge_index
    out = {}
    for a, b in ei.t().tolist():
        out.setdefault(a, set()).add(b)
    return out


@pytest.mark.parametrize("which", ["train", "full"])
def test_all_users_get_k_ranked_rows_with_real_mutual_friends_and_no_known_edge(
        ckpt, tmp_path, which):
    res, frame = run(tmp_path, ckpt, "task=friend", f"k={K}", "users=all", f"graph={which}")
    _, dm, _ = rebuild_from_checkpoint(ckpt)
    graph = dm.graph if which == "full" else dm.batches["train"]["graph"]
    n = graph["user"].num_nodes
    assert len(frame) == n * K == res["rows"]
    ranks = frame.groupby("source")["rank"].apply(list)
    assert ranks.map(lambda r: r == list(range(1, K + 1))).all()
    assert (frame.groupby("source")["score"].diff().dropna() <= 0).all()  # best first
    adj = neighbours(graph)
    for row in frame.itertuples():
        u, v = int(row.source), int(row.target)
        assert u != v and v not in adj.get(u, set())  # never a known edge or the user
        mutual = adj.get(u, set()) & adj.get(v, set())
        assert row.mutual_friends_count == len(mutual)
        listed = [int(w) for w in row.mutual_friends.split(";")] if row.mutual_friends else []
        assert listed == sorted(mutual)[:3]
    assert frame["mutual_friends_count"].gt(0).mean() > 0.2  # the reasons are not all empty
    assert 0 < res["metrics"]["recommend/friend/coverage@20"] <= 1


def test_raw_ids_come_out_and_go_in(ckpt, tmp_path):
    _, dm, module = rebuild_from_checkpoint(ckpt)
    graph = dm.graph.clone()
    graph["user"].raw_id = [f"u{i:04d}" for i in range(graph["user"].num_nodes)]
    raw = raw_id_lists(graph, {"user": list(range(10))})  # the graph's own ids win
    assert raw["user"][17] == "u0017" and raw["post"][3] == 3
    frame, top, _ = recommend_frame(module, "friend", graph, raw, torch.tensor([17, 3]), 5,
                                    reasons=[{"name": "mutual", "src": FRIENDS,
                                              "dst": FRIENDS}])
    assert frame["source"].tolist() == ["u0017"] * 5 + ["u0003"] * 5
    assert frame["target"].tolist() == [f"u{int(i):04d}" for i in top.view(-1)]
    assert all(w.startswith("u") for row in frame["mutual"] if row for w in row.split(";"))


def test_career_reasons_are_shared_skills_and_friends_who_applied(ckpt, tmp_path):
    _, frame = run(tmp_path, ckpt, "task=career", "k=5", "users=[0,1,2,3,4,5,6,7]", "out=r.csv")
    _, dm, _ = rebuild_from_checkpoint(ckpt)
    g = dm.graph
    skills = neighbours(g, ("user", "has_skill", "skill"))
    asks = neighbours(g, ("job", "requires", "skill"))
    friends = neighbours(g)
    applied = neighbours(g, ("job", "rev_applied", "user"))
    assert len(frame) == 40
    for row in frame.itertuples():
        u, j = int(row.source), int(row.target)
        assert j not in neighbours(g, ("user", "applied", "job")).get(u, set())
        assert row.shared_skills_count == len(skills.get(u, set()) & asks.get(j, set()))
        assert row.friends_applied_count == len(friends.get(u, set()) & applied.get(j, set()))


def test_pairwise_and_bilinear_paths_agree_with_brute_force(ckpt):
    _, dm, module = rebuild_from_checkpoint(ckpt)
    graph = dm.graph
    z = embed(module, graph)
    queries = torch.tensor([0, 5, 9, 250])
    exclude = known_pairs(graph, FRIENDS, queries)
    dense = z["user"][queries] @ z["user"].T
    dense[exclude[0], exclude[1]] = float("-inf")
    expected = dense.topk(7, dim=1)
    fast = top_k(module, "friend", z, graph, queries, 7, exclude, chunk=3)
    assert torch.equal(fast[1], expected.indices)
    # Forcing the block path (as for an MLP or NCN decoder) gives the same lists.
    task = module.tasks["friend"]
    saved, task.decoder = task.decoder, _Wrapped(task.decoder)
    try:
        slow = top_k(module, "friend", z, graph, queries, 7, exclude, chunk=2)
    finally:
        task.decoder = saved
    assert torch.equal(slow[1], expected.indices)
    assert torch.allclose(slow[0], expected.values, atol=1e-5)


class _Wrapped(torch.nn.Module):
    """The same dot product, as a decoder the fast path does not know."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, a, b):
        return self.inner(a, b)


def test_faiss_flat_index_matches_exact_and_ivf_recall_is_measurable(ckpt):
    pytest.importorskip("faiss")
    from graphrec.ann import faiss_topk

    _, dm, module = rebuild_from_checkpoint(ckpt)
    z = embed(module, dm.graph)
    queries = torch.arange(60)
    exclude = known_pairs(dm.graph, FRIENDS, queries)
    exact = top_k(module, "friend", z, dm.graph, queries, 10, exclude)
    flat = faiss_topk(z["user"][queries], z["user"], 10, exclude, kind="flat")
    assert (flat[1] == exact[1]).float().mean() > 0.99  # float ties may swap a pair
    # What recommend's index=faiss runs (a catalogue this small gets the flat index).
    via = top_k(module, "friend", z, dm.graph, queries, 10, exclude, index="faiss")
    assert torch.equal(via[1], flat[1])
    ivf = faiss_topk(z["user"].repeat(4, 1), z["user"].repeat(4, 1), 5, kind="ivf",
                     nlist=16, nprobe=16)  # every cell probed: exact up to ties
    assert torch.allclose(ivf[0], (z["user"].repeat(4, 1) @ z["user"].repeat(4, 1).T)
                          .topk(5, dim=1).values, atol=1e-4)
    known = set(map(tuple, exclude.t().tolist()))
    assert not any((q, int(c)) in known for q in range(60) for c in flat[1][q])


def test_a_user_added_later_gets_recommendations_without_retraining(ckpt, tmp_path):
    _, dm, _ = rebuild_from_checkpoint(ckpt)
    x = dm.graph["user"].x
    row = {"raw_id": "newbie", **{f"x{i}": float(v) for i, v in enumerate(x[7])}}
    pd.DataFrame([row]).to_csv(tmp_path / "users.csv", index=False)
    friends = [3, 7, 11]
    pd.DataFrame({"source": ["newbie"] * 3, "relation": ["friends"] * 3,
                  "target": friends}).to_csv(tmp_path / "edges.csv", index=False)
    edges = tmp_path / "edges.csv"
    res, frame = run(tmp_path, ckpt, "task=friend", "k=10", "users=[newbie]",
                     f"new_users={tmp_path / 'users.csv'}", f"new_edges={edges}")
    assert len(frame) == 10 and set(frame["source"]) == {"newbie"}
    targets = set(frame["target"].astype(int))
    assert not targets & set(friends)  # its own new edges are known edges
    adj = neighbours(dm.graph)
    for r in frame.itertuples():  # mutual friends are among its three friends
        assert r.mutual_friends_count == len(set(friends) & adj.get(int(r.target), set()))
    # Inductive: the embedding is made from the neighbourhood, so other friends give other
    # scores (same features, same fallback ID vector).
    pd.DataFrame({"source": ["newbie"] * 3, "relation": ["friends"] * 3,
                  "target": [100, 150, 200]}).to_csv(edges, index=False)
    _, other = run(tmp_path / "b", ckpt, "task=friend", "k=10", "users=[newbie]",
                   f"new_users={tmp_path / 'users.csv'}", f"new_edges={edges}")
    assert not other["score"].equals(frame["score"])


def test_new_user_edges_go_both_ways_and_bad_tables_fail_clearly(ckpt):
    _, dm, _ = rebuild_from_checkpoint(ckpt)
    raw = raw_id_lists(dm.graph)
    cols = {f"x{i}": [0.0] for i in range(dm.graph["user"].x.size(1))}
    rows = pd.DataFrame({"raw_id": ["n1"], **cols})
    edges = pd.DataFrame({"source": ["n1", "n1"], "relation": ["friends", "likes"],
                          "target": [4, 2]})
    g, raw2, new = add_nodes(dm.graph, raw, "user", rows, edges)
    n = dm.graph["user"].num_nodes
    assert new.tolist() == [n] and raw2["user"][n] == "n1" and len(raw["user"]) == n
    ei = g[FRIENDS].edge_index
    assert ((ei[0] == n) & (ei[1] == 4)).any() and ((ei[0] == 4) & (ei[1] == n)).any()
    rev = g[("post", "rev_likes", "user")].edge_index
    assert ((rev[0] == 2) & (rev[1] == n)).any()
    assert g[FRIENDS].edge_time.numel() == ei.size(1)
    with pytest.raises(ConfigError, match="x0"):
        add_nodes(dm.graph, raw, "user", pd.DataFrame({"raw_id": ["n2"]}))
    with pytest.raises(ConfigError, match="already"):
        add_nodes(dm.graph, raw, "user", pd.DataFrame({"raw_id": [5], **cols}))
    with pytest.raises(ConfigError, match="relation"):
        add_nodes(dm.graph, raw, "user", rows, edges.assign(relation="knows"))


def test_unknown_user_is_a_clear_error(ckpt, tmp_path):
    with pytest.raises(ConfigError, match="not in the graph"):
        run(tmp_path, ckpt, "users=[nobody]")


@pytest.mark.slow
def test_cli_prints_one_line_and_exits_2_for_a_node_task(ckpt, tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "recommend.py"), f"ckpt_path={ckpt}",
         "task=sentiment", f"paths.output_dir={tmp_path}", f"hydra.run.dir={tmp_path}"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "not a link task" in proc.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_heuristic_checkpoint_common_neighbours_score_is_the_mutual_friend_count(tmp_path):
    out = tmp_path / "heur"
    res = train(make_cfg(out, ["model=heuristic", "model.score=cn", "model.relations=target",
                               "task=[friend]"]))
    _, frame = run(tmp_path, res["best_ckpt"], "task=friend", "k=5", "users=all")
    assert (frame["score"] == frame["mutual_friends_count"]).all()
    assert frame["score"].iloc[0] > 0
