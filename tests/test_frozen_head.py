"""Frozen sentence embeddings under a head alone (conv=identity), mini-batch inference of
frozen embeddings, and checkpoints chosen by validation cross-entropy (the MiniLM recipes)."""

import csv
import math

import pytest
import torch
import torch.nn.functional as F
from conftest import ENCODERS, make_cfg
from torch_geometric.data import HeteroData

from graphrec.data.datamodule import GraphDataModule
from graphrec.metrics.classification import node_classification_metrics
from graphrec.module import GraphRecModule
from graphrec.sources.corpora import SentimentCorpusSource
from graphrec.text.sentence import SentenceTransformerFeaturizer
from graphrec.train import train
from graphrec.utils.errors import ConfigError

TASKS = {"sentiment": {"kind": "node", "node_type": "post"}}


def _posts(n=60, dim=12, seed=0):
    """An edgeless corpus-like graph: posts with frozen embeddings, labels and a fixed split."""
    g = torch.Generator().manual_seed(seed)
    data = HeteroData()
    data["post"].text_emb = F.normalize(torch.randn(n, dim, generator=g), dim=1)
    data["post"].y = torch.arange(n) % 3
    split = torch.arange(n) % 5
    data["post"].train_mask = split < 3
    data["post"].val_mask = split == 3
    data["post"].test_mask = split == 4
    data["post"].num_nodes = n
    return data


def test_nll_is_the_mean_cross_entropy():
    logits = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    y = torch.tensor([0, 1, 1])
    expected = (math.log(2) + math.log(1 + math.exp(2)) + math.log(1 + math.exp(-3))) / 3
    assert node_classification_metrics(logits, y)["nll"] == pytest.approx(expected, rel=1e-5)


def test_identity_encoder_hands_the_frozen_embedding_to_the_head():
    graph = _posts()
    dm = GraphDataModule(lambda: graph, TASKS)
    dm.setup()
    module = GraphRecModule(dm.metadata, dm.node_specs, TASKS,
                            encoder={"_target_": "graphrec.models.encoders.IdentityEncoder",
                                     "out_channels": 12},
                            head={"hidden": 8, "dropout": 0.0})
    z = module(dm.batches["train"]["graph"])
    assert torch.equal(z["post"], graph["post"].text_emb)
    # Only the head learns: no encoder parameters at all.
    assert not list(module.encoder.parameters()) and list(module.tasks.parameters())
    loss = module.training_step(dm.batches["train"], 0)
    loss.backward()
    assert all(p.grad is not None for p in module.tasks.parameters())


def test_identity_encoder_rejects_a_wrong_width_and_nodes_without_vectors():
    specs = {"post": {"num_nodes": 4, "text": {"kind": "frozen", "dim": 12}}}
    with pytest.raises(ConfigError, match="out_channels=12"):
        ENCODERS["identity"]((["post"], []), specs, out_channels=64)
    specs = {"post": {"num_nodes": 4, "text": {"kind": "hashed_bow", "num_buckets": 9}}}
    with pytest.raises(ConfigError, match="no frozen text embedding"):
        ENCODERS["identity"]((["post"], []), specs, out_channels=64)


@pytest.mark.parametrize("conv", ["mlp", "identity"])
def test_minibatch_inference_of_frozen_embeddings_equals_the_full_forward(conv):
    dm = GraphDataModule(_posts, TASKS, loader="neighbor",
                         neighbor={"batch_size": 16, "eval_batch_size": 7})
    dm.setup()
    torch.manual_seed(0)
    encoder = ENCODERS[conv](dm.metadata, dm.node_specs, hidden_channels=16,
                            out_channels=12).eval()
    batch = dm.batches["val"]
    with torch.no_grad():
        full = encoder(batch["graph"])
    layerwise = encoder.inference(batch["graph"], batch["neighborhoods"])
    torch.testing.assert_close(layerwise["post"], full["post"])


def _cached_tweets(tmp_path, n=(60, 30, 30), layers=1):
    """A UMSAB-format corpus fixture and a sentence-embedding cache for its texts, so the MiniLM
    experiment runs on it without any model weights: embeddings carry the label plus noise."""
    folder = tmp_path / "umsab"
    folder.mkdir()
    for split, size in zip(("train", "val", "test"), n):
        (folder / f"{split}_text.txt").write_text(
            "\n".join(f"{split} tweet {i}" for i in range(size)) + "\n")
        (folder / f"{split}_labels.txt").write_text(
            "\n".join(str(i % 3) for i in range(size)) + "\n")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    cache = tmp_path / "cache"
    graph = SentimentCorpusSource("umsab_english", str(folder))()
    texts = graph["post"].text
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(len(texts), 384, generator=g)
    emb[torch.arange(len(texts)), graph["post"].y] += 8.0
    path = SentenceTransformerFeaturizer(str(model), cache_dir=str(cache),
                                         layers=layers).cache.path(texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(F.normalize(emb, dim=1), path)
    return folder, model, cache


def test_minilm_experiment_keeps_the_epoch_with_the_lowest_validation_cross_entropy(tmp_path):
    # The recipe averages MiniLM's last layers: the cache entry must be the one it reads.
    layers = make_cfg(tmp_path / "probe", ["experiment=sentiment_umsab_minilm"]).featurizer.layers
    assert layers > 1
    folder, model, cache = _cached_tweets(tmp_path, layers=layers)
    out = tmp_path / "run"
    cfg = make_cfg(out, ["experiment=sentiment_umsab_minilm", "data=umsab_english",
                         f"data.source.root={folder}", f"featurizer.model={model}",
                         f"featurizer.cache_dir={cache}", "trainer.max_epochs=8",
                         "trainer.check_val_every_n_epoch=1", "data.neighbor.batch_size=16"])
    res = train(cfg)
    rows = list(csv.DictReader(open(out / "csv" / "metrics.csv")))
    nll = {int(r["epoch"]): float(r["val/sentiment/nll"]) for r in rows
           if r.get("val/sentiment/nll")}
    nll = {e: v for e, v in nll.items() if e < 8}  # the final validate() row repeats the best
    assert len(nll) == 8 and len(set(nll.values())) > 1
    assert res["best_epoch"] == min(nll, key=nll.get)
    assert res["val"]["val/sentiment/nll"] == pytest.approx(min(nll.values()), rel=1e-5)
    assert res["test"]["test/sentiment/acc"] > 0.5  # the planted label signal is learned
