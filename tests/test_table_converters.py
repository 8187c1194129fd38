"""Raw dumps -> tables -> graph: the three converters on tiny hand-written dumps, the cache,
and the one-line message when the raw data is absent."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, make_cfg
from hydra.utils import instantiate

from graphrec.sources.convert.stackexchange import StackExchangeTables
from graphrec.sources.prepare import prepared_root


def _source(tmp_path, data, monkeypatch):
    monkeypatch.setenv("GRAPHREC_DATA_DIR", str(tmp_path / "raw"))
    cfg = make_cfg(tmp_path / "run", [f"data={data}", f"data.source.cache_dir={tmp_path}/cache"])
    return instantiate(cfg.data.source)


def _edges(graph, et):
    ids = (graph[et[0]].raw_id, graph[et[2]].raw_id)
    ei = graph[et].edge_index
    return {(ids[0][a], ids[1][b]) for a, b in zip(ei[0].tolist(), ei[1].tolist())}


def test_ciao_keeps_one_rating_per_pair_and_splits_likes_by_rating(tmp_path, monkeypatch):
    raw = tmp_path / "raw" / "ciao-etrust"
    raw.mkdir(parents=True)
    rows = [  # user product category rating helpfulness time; (1, 10) rated twice
        (1, 10, 2, 2, 3, 1.1e9), (1, 10, 2, 5, 4, 1.2e9), (2, 10, 2, 4, 1, 1.0e9),
        (2, 11, 3, 1, 2, 1.0e9), (3, 11, 5, 5, 2, 1.3e9), (3, 11, 3, 3, 2, 1.2e9)]
    (raw / "rating.txt").write_text("".join(
        "  " + "  ".join(f"{v:.7e}" for v in r) + "\n" for r in rows))
    (raw / "trust.txt").write_text("  1.0000000e+000  2.0000000e+000\n"
                                   "  2.0000000e+000  4.0000000e+000\n")
    graph = _source(tmp_path, "ciao", monkeypatch)()
    assert graph["user"].raw_id == [1, 2, 3, 4]  # user 4 only trusted, never rates
    assert _edges(graph, ("user", "likes", "product")) == {(1, 10), (2, 10), (3, 11)}
    assert _edges(graph, ("user", "rated_low", "product")) == {(2, 11)}
    assert _edges(graph, ("user", "trusts", "user")) == {(1, 2), (2, 4)}
    # Product 11 is filed under category 3 twice and 5 once: category 3 it is (columns c2, c3).
    x = graph["product"].x
    assert x.shape == (2, 2) and x[graph["product"].raw_id.index(11)].tolist() == [0.0, 1.0]


def test_ego_circles_become_member_of_and_owns(tmp_path, monkeypatch):
    raw = tmp_path / "raw" / "ego-facebook"
    (raw / "facebook").mkdir(parents=True)
    (raw / "facebook_combined.txt").write_text("0 1\n0 2\n0 3\n1 2\n4 5\n3 4\n")
    (raw / "facebook" / "0.circles").write_text("circle0\t1\t2\ncircle1\t3\n")
    (raw / "facebook" / "3.circles").write_text("circle0\t4\t5\n")
    graph = _source(tmp_path, "ego_facebook_circles", monkeypatch)()
    assert graph["circle"].raw_id == ["0/circle0", "0/circle1", "3/circle0"]
    assert _edges(graph, ("user", "member_of", "circle")) == {
        (1, "0/circle0"), (2, "0/circle0"), (3, "0/circle1"), (4, "3/circle0"), (5, "3/circle0")}
    assert _edges(graph, ("user", "owns", "circle")) == {
        (0, "0/circle0"), (0, "0/circle1"), (3, "3/circle0")}
    assert graph["user", "friends", "user"].num_edges == 12


def _xml(path, root, rows):
    attrs = ["  <row " + " ".join(f'{k}="{v}"' for k, v in r.items()) + " />" for r in rows]
    path.write_text(f'<?xml version="1.0" encoding="utf-8"?>\n<{root}>\n' + "\n".join(attrs)
                    + f"\n</{root}>\n")


def _stackexchange_dump(raw):
    raw.mkdir(parents=True)
    t = "2018-03-12T17:00:00.000"
    _xml(raw / "Users.xml", "users", [{"Id": i, "CreationDate": t, "Views": 3, "UpVotes": 1,
                                       "DownVotes": 0} for i in (1, 2, 3)])
    _xml(raw / "Tags.xml", "tags", [{"Id": 1, "TagName": "qubit"}, {"Id": 2, "TagName": "gate"}])
    _xml(raw / "Posts.xml", "posts", [
        {"Id": 10, "PostTypeId": 1, "Score": 9, "OwnerUserId": 1, "CreationDate": t,
         "Title": "Why?", "Body": "&lt;p&gt;A &amp;amp; B&lt;/p&gt;", "Tags": "&lt;qubit&gt;"},
        {"Id": 11, "PostTypeId": 1, "Score": 1, "OwnerUserId": 2, "CreationDate": t,
         "Title": "How?", "Body": "x", "Tags": "&lt;qubit&gt;&lt;gate&gt;"},
        {"Id": 12, "PostTypeId": 2, "ParentId": 10, "Score": 5, "OwnerUserId": 2,
         "CreationDate": "2018-03-13T10:00:00.000", "Body": "yes"},
        {"Id": 13, "PostTypeId": 2, "ParentId": 11, "Score": 0, "OwnerUserId": 2,
         "CreationDate": t, "Body": "self answer"},
        {"Id": 14, "PostTypeId": 2, "ParentId": 11, "Score": 2, "OwnerUserId": 3,
         "CreationDate": t, "Body": "no"},
        {"Id": 15, "PostTypeId": 4, "Score": 0, "CreationDate": t, "Body": "tag wiki"}])
    _xml(raw / "Comments.xml", "comments", [
        {"Id": 1, "PostId": 10, "UserId": 3, "CreationDate": t, "Text": "hm"},
        {"Id": 2, "PostId": 15, "UserId": 3, "CreationDate": t, "Text": "on a wiki"}])


def test_stackexchange_relations_labels_and_text(tmp_path, monkeypatch):
    _stackexchange_dump(tmp_path / "raw" / "stackexchange-quantumcomputing-2018")
    graph = _source(tmp_path, "stackexchange", monkeypatch)()
    assert graph["post"].raw_id == [10, 11, 12, 13, 14]  # the tag wiki is no post
    assert _edges(graph, ("user", "answered", "user")) == {(2, 1), (3, 2)}  # no self answer
    # Tags of answered questions only; user 2 answered 10 (qubit) and 11 (its own question).
    assert _edges(graph, ("user", "uses", "tag")) == {
        (2, "qubit"), (2, "gate"), (3, "qubit"), (3, "gate")}
    assert _edges(graph, ("post", "tagged", "tag")) == {(10, "qubit"), (11, "qubit"),
                                                        (11, "gate")}
    assert _edges(graph, ("user", "commented", "post")) == {(3, 10)}
    # Medians: questions (9, 1) -> 5, answers (5, 0, 2) -> 2; high at or above the median.
    assert graph["post"].y.tolist() == [1, 0, 1, 0, 1]
    assert graph["post"].text[0] == "Why? A & B"


def test_conversion_is_cached_until_a_raw_file_changes(tmp_path):
    raw = tmp_path / "se"
    _stackexchange_dump(raw)
    calls = []

    class Counting(StackExchangeTables):
        def write(self, out_dir):
            calls.append(out_dir)
            super().write(out_dir)

    conv = Counting(str(raw))
    first = prepared_root(conv, tmp_path / "cache", "se")
    assert prepared_root(conv, tmp_path / "cache", "se") == first and len(calls) == 1
    os.utime(raw / "Posts.xml", ns=(1, 1))
    prepared_root(conv, tmp_path / "cache", "se")
    assert len(calls) == 2 and (first / "posts.parquet").is_file()


@pytest.mark.slow  # the real entry point, in a fresh interpreter, once per data set
@pytest.mark.parametrize("experiment,files", [
    ("ciao", ["rating.txt", "trust.txt"]),
    ("stackexchange", ["Users.xml", "Posts.xml", "Comments.xml", "Tags.xml"])])
def test_absent_raw_data_is_one_line_naming_files_and_the_converter(tmp_path, experiment, files):
    env = {**os.environ, "GRAPHREC_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT),
           "GRAPHREC_LOG_DIR": str(tmp_path / "logs"), "XDG_CACHE_HOME": str(tmp_path / "c")}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "train.py"),
                           f"experiment={experiment}", "logger=csv"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("graphrec: error:")]
    assert len(lines) == 1, proc.stderr[-2000:]
    for f in files:
        assert f in lines[0]
    assert "GRAPHREC_DATA_DIR" in lines[0]
    assert f"scripts/convert_tables.py {experiment}" in lines[0]


REAL = [  # data config, (edge type, stored edges) as counted in the data's SOURCE.md
    ("stackexchange", [(("user", "answered", "user"), 806)],
     "stackexchange-quantumcomputing-2018"),
    ("ciao", [(("user", "trusts", "user"), 57_544)], "ciao-etrust"),
    ("ego_facebook_circles", [(("user", "friends", "user"), 2 * 88_234)], "ego-facebook"),
]


@pytest.mark.parametrize("data,counts,subdir", REAL, ids=[r[0] for r in REAL])
def test_real_data_converts_to_the_documented_counts(data, counts, subdir, tmp_path):
    base = os.environ.get("GRAPHREC_DATA_DIR")
    if not base or not (Path(base) / subdir).is_dir():
        pytest.skip(f"GRAPHREC_DATA_DIR with {subdir}/ is not set")
    cfg = make_cfg(tmp_path / "run", [f"data={data}", f"data.source.cache_dir={tmp_path}"])
    graph = instantiate(cfg.data.source)()
    for et, n in counts:
        assert graph[et].num_edges == n
