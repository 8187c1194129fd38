"""Hashed bag-of-n-grams token ids for text nodes.

Texts become a padded ``LongTensor [num_texts, max_tokens]`` of bucket ids (0 = padding), so
PyG loaders can slice it like any node feature and an ``nn.EmbeddingBag`` can read it. The
hashing trick keeps the vocabulary open (no fitted vocabulary to ship in a checkpoint), and
bigrams let a bag-of-words model see negations such as "not good". Optional character n-grams
of each word (fastText's sub-word units, Bojanowski et al. 2017) let misspelled, elongated or
unseen words ("soooo", "#blessed", "lovin") share buckets with the words they resemble.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import torch

PAD = 0
# Words, clitics as their own tokens (Penn Treebank style, as SST-2 is written: "does n't",
# "it 's"), and single punctuation marks, so "don't" and "do n't" share their tokens.
_TOKEN_RE = re.compile(r"n't|'[a-z]+|[a-z0-9]+|[^\sa-z0-9]")
_NEGATION_RE = re.compile(r"(?<=[a-z])n't\b")
_CLITIC_RE = re.compile(r"(?<=[a-z0-9])'(s|re|ve|ll|d|m)\b")
# Typographic apostrophes (common in tweets) read as the ASCII one.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})
# Start value of the character n-gram hash: a different hash family from the word hashes, so
# the n-gram "the" (inside "<there>") and the word "the" fall in unrelated buckets.
_CHAR_SEED = 0x5BD1E995
# A large odd multiplier mixes the first word's hash before adding the second, so that
# (a, b) and (b, a) land in different buckets.
_BIGRAM_MULT = 1_000_003


def tokenize(text: str) -> list[str]:
    """Lowercases and splits into words, clitics (``n't``, ``'s``, ``'re``...) and single
    punctuation marks: ``"Don't!"`` -> ``["do", "n't", "!"]``."""
    text = _NEGATION_RE.sub(" n't", text.lower().translate(_APOSTROPHES))
    return _TOKEN_RE.findall(_CLITIC_RE.sub(r" '\1", text))


def char_ngrams(word: str, min_n: int, max_n: int) -> list[str]:
    """fastText's sub-word units: the ``min_n..max_n``-character substrings of ``<word>``
    (``<``/``>`` mark the word's start and end, so prefixes and suffixes differ from inner
    substrings); the whole ``<word>`` is left out, as the word has its own bucket."""
    marked = f"<{word}>"
    return [marked[i:i + n] for n in range(min_n, max_n + 1)
            for i in range(len(marked) - n + 1) if n < len(marked)]


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
    texts: Sequence[str], num_buckets: int, max_words: int = 64, bigrams: bool = True,
    char_ngrams: Sequence[int] | None = None,
) -> torch.Tensor:
    """Tokenizes and hashes raw texts.

    Args:
        texts: raw strings.
        num_buckets: hash buckets; ids are in ``1..num_buckets`` (0 is padding).
        max_words: words kept per text (the rest is cut).
        bigrams: add a bucket per pair of consecutive words.
        char_ngrams: ``(min_n, max_n)``: also add a bucket per character n-gram of every word
            (:func:`char_ngrams`); ``None``: words only.

    Returns:
        ``[len(texts), max_words (*2 - 1)]`` bucket ids without character n-grams; with them,
        each row holds its word, bigram and character n-gram ids, padded with 0 to the longest
        row.
    """
    hashes = torch.full((len(texts), max_words), -1, dtype=torch.long)
    cache: dict[str, int] = {}
    tokenized = [tokenize(text)[:max_words] for text in texts]
    for i, words in enumerate(tokenized):
        for j, w in enumerate(words):
            h = cache.get(w)
            if h is None:
                h = cache[w] = zlib.crc32(w.encode()) & 0x7FFFFFFF
            hashes[i, j] = h
    words_ids = hashed_ngrams(hashes, num_buckets, bigrams)
    if not char_ngrams:
        return words_ids
    return _with_char_ngrams(tokenized, words_ids, num_buckets, char_ngrams)


def _with_char_ngrams(tokenized, words_ids, num_buckets, span) -> torch.Tensor:
    min_n, max_n = (int(n) for n in span)
    if not 1 <= min_n <= max_n:
        raise ValueError(f"char_ngrams=({min_n}, {max_n}): need 1 <= min_n <= max_n")
    # Texts repeat words a lot; each distinct word is split and hashed once.
    cache: dict[str, list[int]] = {}
    rows = []
    for i, words in enumerate(tokenized):
        ids = words_ids[i][words_ids[i] > PAD].tolist()
        for w in words:
            grams = cache.get(w)
            if grams is None:
                grams = cache[w] = [(zlib.crc32(g.encode(), _CHAR_SEED) & 0x7FFFFFFF)
                                    % num_buckets + 1 for g in char_ngrams(w, min_n, max_n)]
            ids.extend(grams)
        rows.append(torch.tensor(ids, dtype=torch.long))
    if not rows:
        return words_ids
    return torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=PAD)
