"""hashed_bow details: tokenization, character n-grams, sparse tables with lazy Adam."""

import pytest
import torch
from torch import nn

from graphrec.models.encoders import NodeInput
from graphrec.optim import DenseSparseAdamW, build_optimizer
from graphrec.text import build_featurizer, text_input_spec
from graphrec.text.tokens import char_ngrams, encode_texts, tokenize
from graphrec.utils.errors import ConfigError


def test_tokenize_splits_clitics_and_punctuation_like_sst2():
    assert tokenize("Don\u2019t stop, it's GREAT!") == ["do", "n't", "stop", ",", "it", "'s",
                                                        "great", "!"]
    # SST-2 is already split this way; raw and pre-split text give the same tokens.
    assert tokenize("they're sure it doesn't") == tokenize("they 're sure it does n't")
    assert tokenize("I'm ok") == ["i", "'m", "ok"]


def test_char_ngrams_mark_word_boundaries_and_skip_the_whole_word():
    assert char_ngrams("good", 3, 4) == ["<go", "goo", "ood", "od>", "<goo", "good", "ood>"]
    assert char_ngrams("ab", 3, 6) == ["<ab", "ab>"]  # "<ab>" itself is the word's own bucket
    assert char_ngrams("a", 3, 6) == []


def _ids(row):
    return set(row[row > 0].tolist())


def test_char_ngrams_add_one_bucket_per_gram_and_link_related_words():
    texts = ["lovin it", "loving", "the", "there"]
    words = encode_texts(texts, 2**20, max_words=8)
    chars = encode_texts(texts, 2**20, max_words=8, char_ngrams=(3, 6))
    # Each row: its word (and bigram) ids, then one id per character n-gram of each word.
    for i, text in enumerate(texts):
        n_grams = sum(len(char_ngrams(w, 3, 6)) for w in tokenize(text))
        assert (chars[i] > 0).sum() == (words[i] > 0).sum() + n_grams
        assert _ids(words[i]) <= _ids(chars[i])
    assert chars.size(1) == max((r > 0).sum() for r in chars)  # padded to the longest row
    # Unseen inflections share sub-word buckets; as whole words they share nothing.
    assert not _ids(words[0]) & _ids(words[1])
    assert len(_ids(chars[0]) & _ids(chars[1])) >= 5  # <lo, lov, ovi, vin, <lov, ...
    # Grams hash apart from words: the gram "the" in "<there>" is not the word "the".
    assert not _ids(words[2]) & _ids(chars[3])


def test_featurizer_rejects_a_bad_char_ngram_range():
    for bad in ([6, 3], [0, 2], [3]):
        with pytest.raises(ConfigError, match="char_ngrams"):
            build_featurizer({"kind": "hashed_bow", "char_ngrams": bad})


def test_sparse_grad_reaches_the_model_and_its_optimizer():
    store = build_featurizer({"kind": "hashed_bow", "num_buckets": 100,
                              "sparse_grad": True})(["a good film", "bad"])
    node = NodeInput(4, num_nodes=2, text=text_input_spec(store))
    assert node.text.sparse
    node(store).sum().backward()
    assert node.text.weight.grad.is_sparse
    assert isinstance(build_optimizer(node, 0.1, 0.0), DenseSparseAdamW)
    dense = NodeInput(4, num_nodes=2, text=text_input_spec(
        build_featurizer({"kind": "hashed_bow", "num_buckets": 100})(["a good film", "bad"])))
    assert type(build_optimizer(dense, 0.1, 0.0)) is torch.optim.AdamW


def test_uniform_init_reaches_the_table_and_keeps_unseen_buckets_near_zero():
    texts = ["a good film", "bad"]
    store = build_featurizer({"kind": "hashed_bow", "num_buckets": 500,
                              "init": "uniform"})(texts)
    spec = text_input_spec(store)
    assert spec["init"] == "uniform"
    hidden = 16
    node = NodeInput(hidden, num_nodes=2, text=spec)
    table = node.text.weight.detach()
    assert table[1:].abs().max() <= 1.0 / hidden and table[1:].std() > 0.2 / hidden
    assert not table[0].any()  # padding row
    # A text made only of buckets the training never touched reads as (almost) nothing,
    # where torch's N(0, 1) table gives it a vector as large as any trained text's.
    unseen = build_featurizer({"kind": "hashed_bow", "num_buckets": 500})(["zzyzx qwv"])
    normal = NodeInput(hidden, num_nodes=1, text=text_input_spec(unseen))
    assert node.text(unseen).norm() < 0.1 * normal.text(unseen).norm()
    default = build_featurizer({"kind": "hashed_bow", "num_buckets": 500})(texts)
    assert "init" not in text_input_spec(default)  # default specs (and checkpoints) unchanged
    with pytest.raises(ConfigError, match="init='xavier'"):
        build_featurizer({"kind": "hashed_bow", "init": "xavier"})


def test_lazy_adam_moves_only_touched_bag_rows_and_matches_adam_on_them():
    torch.manual_seed(0)
    bag = nn.EmbeddingBag(10, 3, mode="mean", sparse=True)
    lin = nn.Linear(3, 1)
    ref_bag, ref_lin = nn.EmbeddingBag(10, 3, mode="mean"), nn.Linear(3, 1)
    ref_bag.load_state_dict(bag.state_dict())
    ref_lin.load_state_dict(lin.state_dict())
    opt = DenseSparseAdamW([*lin.parameters(), *bag.parameters()], lr=0.1, weight_decay=0.0)
    ref = torch.optim.Adam(list(ref_lin.parameters()) + list(ref_bag.parameters()), lr=0.1)
    ids = torch.tensor([[1, 4], [4, 7]])
    before = bag.weight.detach().clone()
    for o, b, m in ((opt, bag, lin), (ref, ref_bag, ref_lin)):
        o.zero_grad()
        m(b(ids)).pow(2).sum().backward()
        o.step()
    touched = torch.tensor([1, 4, 7])
    untouched = torch.tensor([0, 2, 3, 5, 6, 8, 9])
    assert torch.equal(bag.weight[untouched], before[untouched])
    assert not torch.allclose(bag.weight[touched], before[touched])
    # First step: lazy Adam on the touched rows is Adam, and so is the dense part.
    assert torch.allclose(bag.weight, ref_bag.weight, atol=1e-6)
    assert torch.allclose(lin.weight, ref_lin.weight, atol=1e-6)
