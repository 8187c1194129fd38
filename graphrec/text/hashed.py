"""``hashed_bow``: trainable hashed unigram+bigram bag, trained end to end with the GNN."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from graphrec.data.text import encode_texts


class HashedBowFeaturizer:
    """Texts -> hashed n-gram bucket ids (``tokens``); nothing is fitted, nothing downloaded.

    Args:
        num_buckets: hash buckets (the embedding table has one row per bucket).
        max_words: words kept per text.
        bigrams: add word-pair buckets, so "not good" differs from "good".
    """

    kind = "hashed_bow"

    def __init__(self, num_buckets: int = 2**18, max_words: int = 64, bigrams: bool = True):
        self.num_buckets, self.max_words, self.bigrams = num_buckets, max_words, bigrams

    def __call__(self, texts: Sequence[str]) -> dict:
        tokens = encode_texts(texts, self.num_buckets, self.max_words, self.bigrams)
        return {"tokens": tokens, "num_buckets": self.num_buckets}


class HashedBowInput(nn.EmbeddingBag):
    """Mean of the bucket embeddings of a node's n-grams; id 0 is padding.

    A subclass rather than a wrapper so its parameter keeps the name ``text.weight`` that
    checkpoints written before featurizers were pluggable use.
    """

    def __init__(self, num_buckets: int, hidden: int):
        # Mean over the bag keeps the scale independent of text length.
        super().__init__(num_buckets + 1, hidden, mode="mean", padding_idx=0)

    def forward(self, store: Mapping) -> torch.Tensor:  # type: ignore[override]
        return super().forward(store["tokens"])
