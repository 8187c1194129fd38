"""Hashed bag-of-n-grams token ids for text nodes.

Texts become a padded ``LongTensor [num_texts, max_tokens]`` of bucket ids (0 = padding), so
PyG loaders can slice it like any node feature and an ``nn.EmbeddingBag`` can read it. The
hashing trick keeps the vocabulary open (no fitted vocabulary to ship in a checkpoint), and
bigrams let a bag-of-words model see negations such as "not good".
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import torch

PAD = 0
_TOKEN_RE = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")
# A large odd multiplier mixes the first word's hash before adding the second, so that
# (a, b) and (b, a) land in different buckets.
_BIGRAM_MULT = 1_000_003


def tokenize(text: str) -> list[str]:
    """Lowercases and splits into words and single punctuation marks."""
    return _TOKEN_RE.findall(text.lower())


def word_hashes(words: Sequence[str]) -> torch.Tensor:
    """Stable (process-independent) 31-bit hashes of words. Returns ``[len(words)]``."""
    return torch.tensor([zlib.crc32(w.encode()) & 0x7FFFFFFF for w in words], dtype=torch.long)


def hashed_ngrams(hashes: torch.Tensor, num_buckets: int, bigrams: bool = True) -> torch.Tensor:
    """Turns padded word hashes into unigram (+ bigram) bucket ids.

    Args:
        hashes: ``[N, L]`` word hashes, ``-1`` where padded (padding only at the end of a row).
        num_buckets: number of hash buckets; ids are in ``1..num_buckets`` (0 is padding).
        bigrams: also emit a bucket for each pair of consecutive words.

    Returns:
        ``[N, L]`` or ``[N, 2L - 1]`` bucket ids, 0 where padded.
    """
    valid = hashes >= 0
    uni = torch.where(valid, hashes % num_buckets + 1, PAD)
    if not bigrams or hashes.size(1) < 2:
        return uni
    pair_valid = valid[:, 1:] & valid[:, :-1]
    mixed = (hashes[:, :-1] * _BIGRAM_MULT + hashes[:, 1:]) % num_buckets + 1
    bi = torch.where(pair_valid, mixed, PAD)
    return torch.cat([uni, bi], dim=1)


def encode_texts(
    texts: Sequence[str], num_buckets: int, max_words: int = 64, bigrams: bool = True
) -> torch.Tensor:
    """Tokenizes and hashes raw texts. Returns ``[len(texts), max_words (*2 - 1)]`` bucket ids."""
    hashes = torch.full((len(texts), max_words), -1, dtype=torch.long)
    cache: dict[str, int] = {}
    for i, text in enumerate(texts):
        words = tokenize(text)[:max_words]
        for j, w in enumerate(words):
            h = cache.get(w)
            if h is None:
                h = cache[w] = zlib.crc32(w.encode()) & 0x7FFFFFFF
            hashes[i, j] = h
    return hashed_ngrams(hashes, num_buckets, bigrams)
