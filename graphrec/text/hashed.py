"""``hashed_bow``: trainable hashed bag of word uni/bigrams (and optionally character n-grams,
as fastText), trained end to end with the GNN."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from graphrec.text.tokens import encode_texts
from graphrec.utils.errors import ConfigError

INITS = ("normal", "uniform")


def _check_init(init: str) -> str:
    # Checked where the config is read and again where a checkpoint's spec builds the table.
    if init not in INITS:
        raise ConfigError(f"hashed_bow init={init!r}: choose one of {list(INITS)}")
    return init


class HashedBowFeaturizer:
    """Texts -> hashed n-gram bucket ids (``tokens``); nothing is fitted, nothing downloaded.

    Args:
        num_buckets: hash buckets (the embedding table has one row per bucket).
        max_words: words kept per text.
        bigrams: add word-pair buckets, so "not good" differs from "good".
        char_ngrams: ``[min_n, max_n]``: add a bucket per character n-gram of each word (with
            ``<``/``>`` boundary marks; fastText uses ``[3, 6]``); ``None``: words only.
        sparse_grad: the model's table gets sparse gradients, updated by lazy Adam on the rows
            each batch touches (:mod:`graphrec.optim`): a large table (millions of
            buckets) then costs per step what the batch reads, not its size.
        init: starting values of the table. ``normal``: N(0, 1), torch's default.
            ``uniform``: fastText's U(-1/dim, 1/dim). Training moves only the rows it sees, so
            a bucket first met at test time (a new word's n-grams, an emoji, a URL) keeps its
            starting vector; with ``uniform`` that vector is near zero and barely moves the
            text's mean, with ``normal`` it weighs as much as a trained row.
    """

    kind = "hashed_bow"

    def __init__(self, num_buckets: int = 2**18, max_words: int = 64, bigrams: bool = True,
                 char_ngrams: Sequence[int] | None = None, sparse_grad: bool = False,
                 init: str = "normal"):
        self.num_buckets, self.max_words, self.bigrams = num_buckets, max_words, bigrams
        if char_ngrams and (len(char_ngrams) != 2 or not 1 <= char_ngrams[0] <= char_ngrams[1]):
            raise ConfigError(f"hashed_bow char_ngrams={list(char_ngrams)}: give [min_n, max_n] "
                              "with 1 <= min_n <= max_n (fastText: [3, 6]), or null for none")
        self.char_ngrams = tuple(int(n) for n in char_ngrams) if char_ngrams else None
        self.sparse_grad = bool(sparse_grad)
        self.init = _check_init(init)

    def __call__(self, texts: Sequence[str]) -> dict:
        tokens = encode_texts(texts, self.num_buckets, self.max_words, self.bigrams,
                              self.char_ngrams)
        out = {"tokens": tokens, "num_buckets": self.num_buckets}
        if self.sparse_grad:
            out["sparse_grad"] = True
        if self.init != "normal":
            out["init"] = self.init
        return out


class HashedBowInput(nn.EmbeddingBag):
    """Mean of the bucket embeddings of a node's n-grams; id 0 is padding.

    A subclass rather than a wrapper so its parameter keeps the name ``text.weight`` that
    checkpoints written before featurizers were pluggable use.

    Its state dict holds only the rows that moved from their starting values (``moved_rows``,
    ``moved_values``) plus the random state that drew the start (``start_rng``): with sparse
    gradients, training touches the buckets its texts use (a fifth of 2^20 on SST-2), and the
    others still hold the values they were drawn with, which the random state redraws exactly.
    When most rows moved (dense gradients decay them all), the full ``weight`` is stored, as in
    older checkpoints; both load.
    """

    def __init__(self, num_buckets: int, hidden: int, sparse: bool = False,
                 init: str = "normal"):
        start_rng = torch.get_rng_state()  # before EmbeddingBag draws the table
        # Mean over the bag keeps the scale independent of text length.
        super().__init__(num_buckets + 1, hidden, mode="mean", padding_idx=0, sparse=sparse)
        self.init = _check_init(init)
        self.start_rng = start_rng
        if self.init == "uniform":
            with torch.no_grad():
                nn.init.uniform_(self.weight, -1.0 / hidden, 1.0 / hidden)
                self.weight[0].zero_()  # the padding row stays zero

    def start_values(self, start_rng: torch.Tensor) -> torch.Tensor:
        """The table as ``__init__`` drew it from ``start_rng`` (same draws, same order)."""
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(start_rng)
            table = torch.empty(self.num_embeddings, self.embedding_dim)
            nn.init.normal_(table)  # what EmbeddingBag.reset_parameters draws
            if self.init == "uniform":
                nn.init.uniform_(table, -1.0 / self.embedding_dim, 1.0 / self.embedding_dim)
        table[0] = 0
        return table

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        weight = self.weight.detach()
        moved = (weight.cpu() != self.start_values(self.start_rng)).any(1)
        if moved.float().mean() > 0.5:  # dense gradients decay every row: store them all
            super()._save_to_state_dict(destination, prefix, keep_vars)
            return
        rows = moved.nonzero().squeeze(1)
        destination[prefix + "moved_rows"] = rows
        destination[prefix + "moved_values"] = weight[rows.to(weight.device)].clone()
        destination[prefix + "start_rng"] = self.start_rng.clone()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        keys = [prefix + k for k in ("moved_rows", "moved_values", "start_rng")]
        if all(k in state_dict for k in keys):
            rows, values, start_rng = (state_dict.pop(k) for k in keys)
            table = self.start_values(start_rng)
            table[rows] = values.to(table.dtype).cpu()
            state_dict[prefix + "weight"] = table
            self.start_rng = start_rng.clone()
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def forward(self, store: Mapping) -> torch.Tensor:  # type: ignore[override]
        return super().forward(store["tokens"])
