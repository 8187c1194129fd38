"""OGB link datasets from tiny fixtures in ogb's on-disk layout, written here in tmp_path."""

import gzip

import numpy as np
import pytest
import torch
from conftest import make_cfg

from graphrec.data.splits import TEST, VAL
from graphrec.sources.ogb import OgbLinkSource
from graphrec.train import train
from graphrec.utils.errors import DataMissingError

N = 40


def _csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as f:
        for row in np.atleast_2d(rows):
            f.write(",".join(str(x) for x in row) + "\n")


def write_ogb(root, name, seed=0):
    """The files ogb's PygLinkPropPredDataset reads, for a random graph on ``N`` nodes."""
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(0, N, (400,), generator=g)
    dst = torch.randint(0, N, (400,), generator=g)
    keep = src != dst
    a, b = torch.minimum(src, dst)[keep], torch.maximum(src, dst)[keep]
    pairs = torch.unique(a * N + b)
    pairs = torch.stack([pairs // N, pairs % N], 1)[torch.randperm(len(pairs), generator=g)]
    train, val, test = pairs[:-40], pairs[-40:-20], pairs[-20:]
    d = root / name.replace("-", "_")
    (d / "raw").mkdir(parents=True)
    (d / "RELEASE_v1.txt").write_text("1")
    _csv(d / "raw" / "edge.csv.gz", train.numpy())
    _csv(d / "raw" / "num-node-list.csv.gz", [[N]])
    _csv(d / "raw" / "num-edge-list.csv.gz", [[len(train)]])
    split = {"ogbl-ddi": "target", "ogbl-collab": "time", "ogbl-citation2": "time"}[name]
    s = d / "split" / split
    s.mkdir(parents=True)
    if name == "ogbl-citation2":
        _csv(d / "raw" / "node-feat.csv.gz", torch.rand(N, 4, generator=g).numpy())
        _csv(d / "raw" / "node_year.csv.gz", torch.randint(2000, 2020, (N, 1)).numpy())
        for part, p in (("train", train), ("valid", val), ("test", test)):
            # numpy arrays, as in the published citation2 split files.
            obj = {"source_node": p[:, 0].numpy(), "target_node": p[:, 1].numpy()}
            if part != "train":
                obj["target_node_neg"] = torch.randint(0, N, (len(p), 1000), generator=g).numpy()
            torch.save(obj, s / f"{part}.pt")
    else:
        if name == "ogbl-collab":
            _csv(d / "raw" / "node-feat.csv.gz", torch.rand(N, 4, generator=g).numpy())
            _csv(d / "raw" / "edge_weight.csv.gz", np.ones((len(train), 1), dtype=int))
            _csv(d / "raw" / "edge_year.csv.gz", np.full((len(train), 1), 2010))
        for part, p in (("train", train), ("valid", val), ("test", test)):
            obj = {"edge": p}
            if part != "train":
                obj["edge_neg"] = torch.randint(0, N, (60, 2), generator=g)
            torch.save(obj, s / f"{part}.pt")
    return {"train": train.t(), "valid": val.t(), "test": test.t()}


def _keys(pairs):
    return set((pairs[0] * N + pairs[1]).tolist()) | set((pairs[1] * N + pairs[0]).tolist())


def test_missing_files_stop_before_ogb_could_download(tmp_path, monkeypatch):
    import ogb.utils.url

    def no_network(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(ogb.utils.url, "download_url", no_network)
    monkeypatch.setattr(ogb.utils.url, "decide_download", no_network)
    with pytest.raises(DataMissingError, match=r"ogbl_ddi/raw/edge.csv.gz.*ogbl_ddi/split/"
                                               r"target/train.pt.*ogb.stanford.edu"):
        OgbLinkSource("ogbl-ddi", root=str(tmp_path))()
    write_ogb(tmp_path, "ogbl-ddi")
    (tmp_path / "ogbl_ddi" / "RELEASE_v1.txt").unlink()  # ogb would ask on stdin
    with pytest.raises(DataMissingError, match="RELEASE_v1.txt"):
        OgbLinkSource("ogbl-ddi", root=str(tmp_path))()


@pytest.mark.parametrize("val_as_input", [False, True])
def test_official_split_is_served_without_leakage(tmp_path, val_as_input):
    from graphrec.data.datamodule import GraphDataModule

    official = write_ogb(tmp_path, "ogbl-collab")
    source = OgbLinkSource("ogbl-collab", root=str(tmp_path), val_as_input=val_as_input)
    et = ("author", "collaborates", "author")
    dm = GraphDataModule(source, {"t": {"kind": "link", "edge_type": list(et),
                                        "symmetric": True}}, num_eval_negatives=10)
    dm.setup()
    split = dm.splits["t"]
    assert _keys(split.val) == _keys(official["valid"])
    assert _keys(split.test) == _keys(official["test"])
    assert _keys(split.train) == _keys(official["train"])
    graphs = {s: _keys(dm.batches[s]["graph"][et].edge_index) for s in ("train", "val", "test")}
    for s in ("train", "val"):
        assert not graphs[s] & (_keys(split.val) | _keys(split.test))
    assert not graphs["test"] & _keys(split.test)
    # collab's rule: validation edges are test-time input only when asked for.
    assert (_keys(split.val) <= graphs["test"]) == val_as_input
    targets = dm.batches["test"]["targets"]["t"]
    assert targets["ogb"] == "ogbl-collab" and targets["ogb_neg"].shape == (2, 60)
    assert dm.graph[et].edge_split.max() == (VAL if val_as_input else 0) < TEST


def test_heuristic_reports_the_official_metric(tmp_path):
    from ogb.linkproppred import Evaluator

    from graphrec.models.heuristics import HeuristicScorer

    official = write_ogb(tmp_path / "data", "ogbl-ddi")
    cfg = make_cfg(tmp_path / "run", [
        "data=ogbl_ddi", "task=[ogbl_ddi]", "model=heuristic", "model.score=cn",
        f"data.source.root={tmp_path / 'data'}"])
    results = train(cfg)
    # The same number straight from ogb's Evaluator on the training graph alone.
    scorer = HeuristicScorer("common_neighbors", N).fit(official["train"])
    neg = torch.load(tmp_path / "data" / "ogbl_ddi" / "split" / "target" / "test.pt")
    expected = Evaluator("ogbl-ddi").eval({
        "y_pred_pos": scorer(official["test"]), "y_pred_neg": scorer(neg["edge_neg"].t())})
    assert results["test"]["test/ogbl_ddi/ogb_hits@20"] == pytest.approx(expected["hits@20"])


def test_citation2_ranks_against_its_official_negatives(tmp_path):
    official = write_ogb(tmp_path / "data", "ogbl-citation2")
    source = OgbLinkSource("ogbl-citation2", root=str(tmp_path / "data"))
    graph = source()
    et = ("paper", "cites", "paper")
    assert graph["paper"].x.shape == (N, 4)
    split = source.split_links(graph, et, symmetric=False, num_negatives=5,
                               generator=torch.Generator())
    saved = torch.load(tmp_path / "data" / "ogbl_citation2" / "split" / "time" / "valid.pt",
                       weights_only=False)
    assert torch.equal(split.val_neg, torch.as_tensor(saved["target_node_neg"]))
    assert torch.equal(split.val, official["valid"])
    cfg = make_cfg(tmp_path / "run", [
        "data=ogbl_citation2", "task=[ogbl_citation2]", "model=heuristic", "model.score=pa",
        f"data.source.root={tmp_path / 'data'}"])
    results = train(cfg)
    # The Evaluator's MRR uses the same tie rule as graphrec's sampled MRR.
    assert results["test"]["test/ogbl_citation2/ogb_mrr"] == pytest.approx(
        results["test"]["test/ogbl_citation2/mrr"], abs=1e-6)
