"""Real benchmark graphs (Planetoid, ego-Facebook): loading, missing files, datamodule, config.

Tests that read real data take it from ``GRAPHREC_DATA_DIR`` and skip when it is not set; the
missing-file tests need no data and always run. Every Planetoid load caches into ``tmp_path``
so the data folder, which may be read-only and shared, is never written to.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from graphrec.data.datamodule import GraphDataModule
from graphrec.data.schema import validate
from graphrec.runtime import CONFIG_DIR
from graphrec.sources.benchmarks import EgoFacebookSource, PlanetoidSource
from graphrec.utils.errors import DataMissingError

CITES = ("paper", "cites", "paper")
FRIENDS = ("user", "friends", "user")
LINK_TASK = {"kind": "link", "edge_type": list(CITES), "symmetric": True}
FRIEND_TASK = {"kind": "link", "edge_type": list(FRIENDS)}


def _data_dir(*parts: str) -> Path:
    """The real data folder ``$GRAPHREC_DATA_DIR/<parts>``, or skip the test saying why."""
    base = os.environ.get("GRAPHREC_DATA_DIR")
    if not base:
        pytest.skip("GRAPHREC_DATA_DIR is not set; point it at the benchmark data folder")
    path = Path(base, *parts)
    if not path.exists():
        pytest.skip(f"{path} does not exist (GRAPHREC_DATA_DIR={base})")
    return path


def _pairs(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    return set(map(tuple, edge_index.t().tolist()))


def _assert_clean_undirected(edge_index: torch.Tensor) -> None:
    pairs = _pairs(edge_index)
    assert len(pairs) == edge_index.size(1), "duplicate entries"
    assert all((v, u) in pairs for u, v in pairs), "not stored in both directions"
    assert bool((edge_index[0] != edge_index[1]).all()), "self loops"


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*")}


def test_cora_loads_without_touching_the_source(tmp_path):
    root = _data_dir("planetoid")
    before = _snapshot(root / "Cora")
    g = validate(PlanetoidSource("Cora", root=str(root), cache_dir=str(tmp_path))(),
                 strict=False)
    assert g.node_types == ["paper"] and g.edge_types == [CITES]
    assert g["paper"].num_nodes == 2708
    assert tuple(g["paper"].x.shape) == (2708, 1433)
    ei = g[CITES].edge_index
    assert ei.size(1) == 2 * 5278 == 10556
    _assert_clean_undirected(ei)
    assert _snapshot(root / "Cora") == before
    assert not (root / "Cora" / "processed").exists()
    assert (tmp_path / "Cora" / "processed").is_dir()


def test_cora_cache_is_reused_and_refreshed_when_the_source_changes(tmp_path):
    src = _data_dir("planetoid", "Cora", "raw")
    # A private copy of the source, so it can be changed.
    root = tmp_path / "src"
    (root / "Cora" / "raw").mkdir(parents=True)
    for f in src.iterdir():
        (root / "Cora" / "raw" / f.name).write_bytes(f.read_bytes())
    source = PlanetoidSource("cora", root=str(root), cache_dir=str(tmp_path / "cache"))
    source()
    processed = tmp_path / "cache" / "Cora" / "processed"
    stamp = {p.name: p.stat().st_mtime_ns for p in processed.iterdir()}
    source()
    assert {p.name: p.stat().st_mtime_ns for p in processed.iterdir()} == stamp
    changed = root / "Cora" / "raw" / "ind.cora.test.index"
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    source()
    assert {p.name: p.stat().st_mtime_ns for p in processed.iterdir()} != stamp


def test_citeseer_loads(tmp_path):
    root = _data_dir("planetoid")
    g = PlanetoidSource("CiteSeer", root=str(root), cache_dir=str(tmp_path))()
    assert g["paper"].num_nodes == 3327
    assert g["paper"].x.size(0) == 3327
    _assert_clean_undirected(g[CITES].edge_index)


def test_citation_graph_without_features_matches_the_featured_one(tmp_path):
    root = _data_dir("planetoid")
    bare = PlanetoidSource("Cora", root=str(root), cache_dir=str(tmp_path), features=False)()
    full = PlanetoidSource("Cora", root=str(root), cache_dir=str(tmp_path))()
    assert "x" not in bare["paper"]
    assert bare["paper"].num_nodes == full["paper"].num_nodes
    assert torch.equal(bare[CITES].edge_index, full[CITES].edge_index)


def test_ego_facebook_loads():
    root = _data_dir("ego-facebook")
    g = validate(EgoFacebookSource(root=str(root))(), strict=False)
    assert g.node_types == ["user"] and g.edge_types == [FRIENDS]
    assert g["user"].num_nodes == 4039
    assert "x" not in g["user"]
    ei = g[FRIENDS].edge_index
    assert ei.size(1) == 2 * 88234
    _assert_clean_undirected(ei)


def test_missing_planetoid_files_are_named(tmp_path):
    with pytest.raises(DataMissingError) as err:
        PlanetoidSource("Cora", root=str(tmp_path), cache_dir=str(tmp_path / "cache"))()
    msg = str(err.value)
    for part in ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index"):
        assert f"ind.cora.{part}" in msg
    assert str(tmp_path / "Cora" / "raw") in msg
    assert "kimiyoung/planetoid" in msg
    assert not (tmp_path / "cache").exists()


def test_missing_features_file_points_to_features_false(tmp_path):
    raw = tmp_path / "PubMed" / "raw"
    raw.mkdir(parents=True)
    for part in ("x", "tx", "y", "ty", "ally", "test.index"):
        (raw / f"ind.pubmed.{part}").write_bytes(b"")
    # The graph alone is enough without features: two papers citing each other, one isolated.
    (raw / "ind.pubmed.graph").write_bytes(pickle.dumps({0: [1, 1, 0], 1: [0], 2: []}))
    source = PlanetoidSource("PubMed", root=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    with pytest.raises(DataMissingError, match="ind.pubmed.allx") as err:
        source()
    assert "features=False" in str(err.value)
    assert "ind.pubmed.graph" not in str(err.value)
    g = PlanetoidSource("pubmed", root=str(tmp_path), cache_dir=str(tmp_path / "cache"),
                        features=False)()
    assert g["paper"].num_nodes == 3
    assert _pairs(g[CITES].edge_index) == {(0, 1), (1, 0)}


def test_missing_ego_facebook_file_is_named(tmp_path):
    with pytest.raises(DataMissingError) as err:
        EgoFacebookSource(root=str(tmp_path))()
    msg = str(err.value)
    assert "facebook_combined.txt" in msg and str(tmp_path) in msg
    assert "snap.stanford.edu" in msg


def test_unset_data_dir_says_how_to_set_it(monkeypatch):
    monkeypatch.delenv("GRAPHREC_DATA_DIR", raising=False)
    with pytest.raises(DataMissingError, match="GRAPHREC_DATA_DIR"):
        PlanetoidSource("Cora")()
    with pytest.raises(DataMissingError, match="data.source.root"):
        EgoFacebookSource()()


def test_unknown_planetoid_name():
    with pytest.raises(ValueError, match="CiteSeer"):
        PlanetoidSource("Coraa")


def _split_sizes(dm: GraphDataModule, task: str) -> tuple[int, int, int]:
    return tuple(dm.splits[task].pairs(s).size(1) for s in ("train", "val", "test"))


def test_cora_link_task_through_the_datamodule(tmp_path):
    root = _data_dir("planetoid")
    source = PlanetoidSource("Cora", root=str(root), cache_dir=str(tmp_path))
    dm = GraphDataModule(source, {"link": LINK_TASK}, val_ratio=0.05, test_ratio=0.10)
    dm.setup()
    train, val, test = _split_sizes(dm, "link")
    assert train + val + test == 5278
    assert (val, test) == (round(5278 * 0.05), round(5278 * 0.10))
    assert dm.node_specs["paper"]["x_dim"] == 1433
    # Held-out pairs are gone from the training message-passing graph, in both directions.
    mp = _pairs(dm.batches["train"]["graph"][CITES].edge_index)
    held = dm.splits["link"].pairs("test")
    assert not any((u, v) in mp or (v, u) in mp for u, v in held.t().tolist())


def test_ego_facebook_friend_task_through_the_datamodule():
    root = _data_dir("ego-facebook")
    dm = GraphDataModule(EgoFacebookSource(root=str(root)), {"friend": FRIEND_TASK},
                         val_ratio=0.1, test_ratio=0.1, num_eval_negatives=5)
    dm.setup()
    train, val, test = _split_sizes(dm, "friend")
    assert train + val + test == 88234
    assert val == test == round(88234 * 0.1)
    assert dm.node_specs["user"]["x_dim"] == 0


@pytest.mark.parametrize(("data", "task", "target", "name"), [
    ("cora", "link", "PlanetoidSource", "Cora"),
    ("citeseer", "link", "PlanetoidSource", "CiteSeer"),
    ("ego_facebook", "friend", "EgoFacebookSource", None),
])
def test_configs_compose(data, task, target, name):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"data={data}", f"task=[{task}]"])
    assert cfg.data.source._target_ == f"graphrec.sources.benchmarks.{target}"
    assert list(cfg.task) == [task]
    assert cfg.data.source.root.startswith(str(cfg.paths.data_dir))
    assert cfg.data.temporal is False
    if name is not None:
        assert cfg.data.source.name == name
        assert cfg.task.link.symmetric
        assert list(cfg.task.link.edge_type) == list(CITES)
        assert (cfg.data.val_ratio, cfg.data.test_ratio) == (0.05, 0.10)
