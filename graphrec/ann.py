"""Approximate top-K by inner product with a faiss index (the optional ``ann`` extra).

For catalogues where the exact ``Q x N`` product is too slow. faiss's inverted-file index
(``IndexIVFFlat``) clusters the candidates into ``nlist`` cells and scans only the
``nprobe`` cells nearest each query, so a query costs about ``nprobe / nlist`` of the exact
scan; recall against the exact path is measured, not assumed (scripts/bench/recommend.py).
faiss has no per-query exclusion list, so it is asked for ``k`` plus the query's largest
number of known edges, and known ones are dropped afterwards.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from graphrec.utils.errors import ConfigError

INDEXES = ("ivf", "flat")


def _faiss():
    try:
        import faiss
    except ImportError:
        raise ConfigError("index=faiss needs faiss: pip install graphrec[ann] (faiss-cpu), or "
                          "use index=exact") from None
    return faiss


def build_index(cand: Tensor, kind: str = "ivf", nlist: int | None = None,
                nprobe: int = 32, train_size: int = 65536, seed: int = 0):
    """An inner-product faiss index over ``cand [N, D]``.

    Args:
        kind: ``ivf`` (inverted file, approximate) or ``flat`` (exact scan, for checks).
        nlist: IVF cells; default ``4 * sqrt(N)`` (faiss's guideline).
        nprobe: cells scanned per query (recall against speed).
        train_size: candidates the cell centroids are trained on.
    """
    faiss = _faiss()
    if kind not in INDEXES:
        raise ConfigError(f"ann.kind={kind!r}; choose one of {INDEXES}")
    x = np.ascontiguousarray(cand.detach().float().cpu().numpy())
    n, dim = x.shape
    if kind == "flat" or n < 1024:
        index = faiss.IndexFlatIP(dim)
    else:
        nlist = nlist or max(1, int(4 * math.sqrt(n)))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist,
                                   faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        sample = x[rng.choice(n, size=min(n, max(train_size, 39 * nlist)), replace=False)]
        index.train(sample)
        index.nprobe = nprobe
    index.add(x)
    return index


def faiss_topk(query: Tensor, cand: Tensor, k: int, exclude: Tensor | None = None,
               kind: str = "ivf", nlist: int | None = None, nprobe: int = 32,
               chunk: int = 65536, index=None) -> tuple[Tensor, Tensor]:
    """Approximate :func:`graphrec.metrics.retrieval.topk_retrieval` (same contract).

    Args:
        query: ``[Q, D]``; cand: ``[N, D]``; k: list length.
        exclude: ``[2, E]`` (query position, candidate) pairs never returned.
        kind, nlist, nprobe: see :func:`build_index`; index: a prebuilt one (then they are
            ignored).
        chunk: queries searched at once.

    Returns:
        ``(scores [Q, k], index [Q, k])``; ``-1`` / ``-inf`` where fewer were found.
    """
    if index is None:
        index = build_index(cand, kind, nlist, nprobe)
    num_q, n = query.size(0), cand.size(0)
    keys = None
    extra = 0
    if exclude is not None and exclude.numel():
        keys = torch.unique(exclude[0] * n + exclude[1])
        extra = int(torch.bincount(keys // n, minlength=num_q).max())
    fetch = min(n, k + extra)
    out_s = torch.full((num_q, k), float("-inf"))
    out_i = torch.full((num_q, k), -1, dtype=torch.long)
    q_all = np.ascontiguousarray(query.detach().float().cpu().numpy())
    for start in range(0, num_q, chunk):
        scores, idx = index.search(q_all[start:start + chunk], fetch)
        scores, idx = torch.from_numpy(scores), torch.from_numpy(idx)
        bad = idx < 0
        if keys is not None:
            rows = torch.arange(start, start + idx.size(0))[:, None]
            q = rows * n + idx.clamp(min=0)
            at = torch.searchsorted(keys, q).clamp_(max=keys.numel() - 1)
            bad |= keys[at] == q
        # Admissible hits first, each row keeping faiss's order (stable sort on the flag).
        order = torch.sort(bad.to(torch.int8), dim=1, stable=True).indices[:, :k]
        s, i = scores.gather(1, order), idx.gather(1, order)
        dropped = bad.gather(1, order)
        width = s.size(1)
        out_s[start:start + s.size(0), :width] = s.masked_fill(dropped, float("-inf"))
        out_i[start:start + s.size(0), :width] = i.masked_fill(dropped, -1)
    return out_s, out_i
