"""The tables source: tables + schema -> graph, raw ids kept through splits and checkpoints."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import make_cfg
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from tables_fixture import MOODS, write_tables

from graphrec.data.datamodule import GraphDataModule
from graphrec.data.leakage import message_passing_graph
from graphrec.data.schema import validate
from graphrec.data.splits import TRAIN, split_links
from graphrec.sources.tables import TablesSource
from graphrec.train import train
from graphrec.utils.errors import ConfigError
from graphrec.utils.provenance import fingerprint


@pytest.fixture
def tables(tmp_path):
    return write_tables(tmp_path / "tables")


def _pairs(graph, et):
    ei = graph[et].edge_index
    return set(zip(ei[0].tolist(), ei[1].tolist()))


def test_graph_keeps_raw_ids_and_maps_every_edge_to_them(tables):
    graph = validate(TablesSource(str(tables["schema"]))(), strict=False)
    users, posts = tables["users.csv"], tables["posts.parquet"]
    assert graph["user"].raw_id == list(users["user_id"])
    assert graph["post"].raw_id == [int(p) for p in posts["post_id"]]
    assert all(type(p) is int for p in graph["post"].raw_id)
    ids = {nt: graph[nt].raw_id for nt in ("user", "post")}
    # Raw-id pairs back from the graph must equal the tables' rows, in both directions.
    wrote = {(ids["user"][u], ids["post"][p]) for u, p in _pairs(graph, ("user", "wrote", "post"))}
    assert wrote == set(zip(tables["wrote.parquet"]["user"], tables["wrote.parquet"]["post"]))
    rev = _pairs(graph, ("post", "rev_wrote", "user"))
    assert rev == {(p, u) for u, p in _pairs(graph, ("user", "wrote", "post"))}
    friends = {(ids["user"][a], ids["user"][b]) for a, b in
               _pairs(graph, ("user", "friends", "user"))}
    table = set(zip(tables["friends.csv"]["a"], tables["friends.csv"]["b"]))
    assert friends == table | {(b, a) for a, b in table}
    assert ("user", "rev_friends", "user") not in graph.edge_types  # symmetric: its own reverse
    assert graph["user", "friends", "user"].edge_index.size(1) == 2 * len(table)


def test_features_labels_and_times_match_independent_encoders(tables):
    graph = TablesSource(str(tables["schema"]))()
    users, posts = tables["users.csv"], tables["posts.parquet"]
    numeric = StandardScaler().fit_transform(users[["followers", "age"]].to_numpy(float))
    onehot = OneHotEncoder().fit_transform(users[["country"]]).toarray()
    expected = np.concatenate([numeric, onehot], axis=1)
    np.testing.assert_allclose(graph["user"].x.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert graph["post"].y.tolist() == [MOODS.index(m) for m in posts["mood"]]
    assert graph["post"].text == list(posts["text"])
    joined = [int(datetime.fromisoformat(d).replace(tzinfo=timezone.utc).timestamp())
              for d in users["joined"]]
    assert graph["user"].time.tolist() == joined
    likes = graph["user", "likes", "post"]
    assert likes.edge_attr.shape == (len(tables["likes.csv"]), 1)
    assert sorted(likes.edge_attr[:, 0].tolist()) == sorted(tables["likes.csv"]["stars"])


def test_integer_ids_in_one_table_match_string_ids_in_another(tmp_path):
    t = write_tables(tmp_path)
    wrote = t["wrote.parquet"].assign(post=t["wrote.parquet"]["post"].astype(str))
    wrote.to_parquet(tmp_path / "wrote.parquet", index=False)
    graph = TablesSource(str(t["schema"]))()
    ids = graph["post"].raw_id
    got = {ids[p] for _, p in _pairs(graph, ("user", "wrote", "post"))}
    assert got == {int(p) for p in t["wrote.parquet"]["post"]}


def test_unknown_ids_are_an_error_unless_dropping_is_asked_for(tmp_path, caplog):
    t = write_tables(tmp_path)
    likes = pd.concat([t["likes.csv"], pd.DataFrame(
        {"user": ["ghost", "u001", "nobody"], "post": [int(t["posts.parquet"].post_id[0]),
                                                      999, 998], "stars": [1, 2, 3]})])
    likes.to_csv(tmp_path / "likes.csv", index=False)
    with pytest.raises(ConfigError, match=r"likes\.csv: column 'user': ids not in the 'user'"):
        TablesSource(str(t["schema"]))()
    schema = yaml.safe_load(t["schema"].read_text())
    schema["on_unknown_ids"] = "drop"
    with caplog.at_level(logging.WARNING):
        graph = TablesSource(schema, root=str(tmp_path))()
    assert graph["user", "likes", "post"].num_edges == len(t["likes.csv"])
    counts = sorted(int(r.getMessage().split("dropped ")[1].split()[0]) for r in caplog.records
                    if "dropped" in r.getMessage())
    assert counts == [1, 2]  # 'ghost' and 'nobody' by user; then post 999 (nobody is gone)


def test_repeated_pairs_are_kept_once_and_reported(tmp_path, caplog):
    t = write_tables(tmp_path)
    likes = t["likes.csv"]
    pd.concat([likes, likes.iloc[:4]]).to_csv(tmp_path / "likes.csv", index=False)
    with caplog.at_level(logging.WARNING):
        graph = TablesSource(str(t["schema"]))()
    assert graph["user", "likes", "post"].num_edges == len(likes)
    assert any("4 pair(s) more than once" in r.getMessage() for r in caplog.records)


def test_where_keeps_only_rows_in_range(tmp_path):
    t = write_tables(tmp_path)
    schema = yaml.safe_load(t["schema"].read_text())
    schema["edges"]["likes"]["where"] = {"column": "stars", "min": 4}
    graph = TablesSource(schema, root=str(tmp_path))()
    assert graph["user", "likes", "post"].num_edges == int((t["likes.csv"].stars >= 4).sum())
    assert graph["user", "likes", "post"].edge_attr.min() >= 4


def test_raw_ids_are_fingerprinted_and_survive_the_split_graphs(tables):
    graph = TablesSource(str(tables["schema"]))()
    before = fingerprint(graph)
    renamed = TablesSource(str(tables["schema"]))()
    renamed["user"].raw_id = [f"x{v}" for v in renamed["user"].raw_id]
    assert fingerprint(renamed) != before  # same tensors, different ids
    et = ("user", "friends", "user")
    split = split_links(graph, et, 0.1, 0.1, False, True, 10, torch.Generator().manual_seed(0))
    mp = message_passing_graph(graph, [split], TRAIN)
    assert mp["user"].raw_id == graph["user"].raw_id
    assert mp[et].num_edges < graph[et].num_edges


def test_task_must_split_a_relation_as_the_schema_declares(tables):
    source = TablesSource(str(tables["schema"]))
    dm = GraphDataModule(source, {"likes": {"kind": "link", "edge_type": ["user", "likes", "post"],
                                            "symmetric": True}})
    with pytest.raises(ConfigError, match="symmetric: false"):
        dm.setup()


def test_two_epochs_from_tables_keep_raw_ids_in_the_checkpoint(tables, tmp_path):
    cfg = make_cfg(tmp_path / "run", [
        "data=tables", f"data.source.schema={tables['schema']}", "+data.source.labels.post=mood",
        "task=[friend,content,sentiment]", "task.content.edge_type=[user,likes,post]",
        "trainer.max_epochs=2", "trainer.check_val_every_n_epoch=1"])
    results = train(cfg)
    for key in ("test/friend/mrr", "test/content/mrr", "test/sentiment/macro_f1"):
        assert 0.0 < results["test"][key] <= 1.0
    ckpt = torch.load(results["best_ckpt"], map_location="cpu", weights_only=False)
    raw = ckpt["graphrec"]["raw_ids"]
    assert raw["user"] == list(tables["users.csv"]["user_id"])
    assert raw["post"] == [int(p) for p in tables["posts.parquet"]["post_id"]]


def test_no_held_out_pair_is_in_the_graph_it_is_scored_on(tables):
    """Leakage: val/test pairs of a symmetric and a directed relation from tables are absent
    from their split's message-passing graph, in both directions and via the reverse type."""
    tasks = {"friend": {"kind": "link", "edge_type": ["user", "friends", "user"]},
             "content": {"kind": "link", "edge_type": ["user", "likes", "post"]}}
    dm = GraphDataModule(TablesSource(str(tables["schema"])), tasks)
    dm.setup()
    for split in ("val", "test"):
        graph = dm.batches[split]["graph"]
        for name, et, rev in (("friend", ("user", "friends", "user"), None),
                              ("content", ("user", "likes", "post"),
                               ("post", "rev_likes", "user"))):
            held = {tuple(p) for p in dm.splits[name].pairs(split).t().tolist()}
            assert held
            stored = _pairs(graph, et)
            assert not held & stored
            if rev is None:  # symmetric: the twin (v, u) is stored under the same type
                assert not {(b, a) for a, b in held} & stored
            else:
                assert not {(b, a) for a, b in held} & _pairs(graph, rev)
    assert dm.raw_ids == {"user": list(tables["users.csv"]["user_id"]),
                          "post": [int(p) for p in tables["posts.parquet"]["post_id"]]}


@pytest.mark.slow
def test_neighbor_loader_trains_on_a_graph_with_raw_ids(tables, tmp_path):
    cfg = make_cfg(tmp_path / "run", [
        "data=tables", f"data.source.schema={tables['schema']}", "task=[friend,sentiment]",
        "data.loader=neighbor", "data.neighbor.batch_size=64", "trainer.max_epochs=1",
        "trainer.check_val_every_n_epoch=1"])
    results = train(cfg)
    assert 0.0 < results["test"]["test/friend/mrr"] <= 1.0
    ckpt = torch.load(results["best_ckpt"], map_location="cpu", weights_only=False)
    assert ckpt["graphrec"]["raw_ids"]["user"] == list(tables["users.csv"]["user_id"])
