"""Beyond-accuracy metrics of top-K recommendation lists: who gets exposure, and how varied.

Accuracy alone rewards recommending the same few popular items to everyone. These metrics
read only the lists themselves (``top [Q, K]`` candidate ids, ``-1`` for empty slots) and
the catalogue's training popularity, following RecBole's definitions where it has one:

* ``coverage@K``: distinct recommended items / catalogue size (RecBole ``ItemCoverage``).
* ``gini@K``: Gini index of the exposure counts over the *whole* catalogue, items never
  recommended included (RecBole ``GiniIndex``): 0 when every item is shown equally often,
  ``(N - 1) / N`` when one item takes all exposure.
* ``popularity@K``: mean training popularity (degree) of the recommended items (RecBole
  ``AveragePopularity``, averaged over slots); compare with ``heldout_popularity``, the
  mean popularity of the held-out positives, to see a popularity bias.
* ``diversity@K``: intra-list diversity, the mean over lists of the fraction of item pairs
  in different categories (community, topic), or, without categories, of one minus their
  cosine similarity (Ziegler et al., 2005).
* ``novelty@K``: mean self-information ``-log2((pop + 1) / (num_users + 1))`` of the
  recommended items (Zhou et al., 2010), add-one smoothed so an item nobody has is finite.

Written here because no maintained library takes a ``[Q, K]`` tensor of ids: RecBole's
versions are bound to its own data objects and trainer.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _valid(top: Tensor) -> Tensor:
    """Flat item ids of the filled slots of ``top [Q, K]``."""
    flat = top.reshape(-1)
    return flat[flat >= 0]


def exposure(top: Tensor, num_items: int) -> Tensor:
    """How often each item is recommended: ``[num_items]`` counts from ``top [Q, K]``."""
    return torch.bincount(_valid(top), minlength=num_items)


def coverage(top: Tensor, num_items: int) -> float:
    """Fraction of the ``num_items`` catalogue that appears in at least one list."""
    return float((exposure(top, num_items) > 0).sum()) / num_items if num_items else float("nan")


def gini(counts: Tensor) -> float:
    """Gini index of non-negative counts ``[N]``: ``sum_i (2i - N - 1) c_(i) / (N sum c)``.

    ``c_(i)`` are the counts sorted ascending, ``i = 1..N``. NaN when every count is 0.
    """
    n = counts.numel()
    total = float(counts.sum())
    if n == 0 or total == 0:
        return float("nan")
    c = counts.double().sort().values
    i = torch.arange(1, n + 1, dtype=torch.float64)
    return float(((2 * i - n - 1) * c).sum() / (n * total))


def mean_popularity(top: Tensor, popularity: Tensor) -> float:
    """Mean ``popularity [num_items]`` over every filled slot of ``top [Q, K]``."""
    items = _valid(top)
    return float(popularity[items].double().mean()) if items.numel() else float("nan")


def novelty(top: Tensor, popularity: Tensor, num_users: int) -> float:
    """Mean ``-log2((popularity + 1) / (num_users + 1))`` over the filled slots."""
    items = _valid(top)
    if not items.numel():
        return float("nan")
    p = (popularity[items].double() + 1) / (num_users + 1)
    return float(-torch.log2(p).mean())


def intra_list_diversity(top: Tensor, categories: Tensor | None = None,
                         emb: Tensor | None = None, chunk: int = 4096) -> float:
    """Mean over lists of the pairwise dissimilarity of their items.

    Args:
        top: ``[Q, K]`` item ids, ``-1`` for empty slots (pairs with one are skipped).
        categories: ``[num_items]`` category ids: dissimilarity is ``category differs``.
        emb: ``[num_items, D]`` item vectors, used without ``categories``: dissimilarity is
            ``1 - cosine``.
        chunk: lists processed at once (memory ``chunk * K * K``).

    Returns:
        The mean over lists with at least two filled slots; NaN when there are none.
    """
    if categories is None and emb is None:
        raise ValueError("intra_list_diversity needs categories or emb")
    if emb is not None and categories is None:
        emb = torch.nn.functional.normalize(emb.double(), dim=-1)
    total, lists = 0.0, 0
    k = top.size(1)
    off_diag = ~torch.eye(k, dtype=torch.bool)
    for start in range(0, top.size(0), chunk):
        t = top[start:start + chunk]
        filled = t >= 0
        safe = t.clamp(min=0)
        if categories is not None:
            c = categories[safe]
            dis = (c[:, :, None] != c[:, None, :]).double()
        else:
            e = emb[safe]
            dis = 1 - e @ e.transpose(1, 2)
        pair = filled[:, :, None] & filled[:, None, :] & off_diag
        n_pairs = pair.sum((1, 2))
        ok = n_pairs > 0
        total += float(((dis * pair).sum((1, 2))[ok] / n_pairs[ok]).sum())
        lists += int(ok.sum())
    return total / lists if lists else float("nan")


def beyond_accuracy(top: Tensor, num_items: int, popularity: Tensor, num_users: int,
                    heldout: Tensor | None = None, ks=(20,), categories: Tensor | None = None,
                    emb: Tensor | None = None) -> dict[str, float]:
    """Every metric of the module docstring at each cut-off ``K`` of ``ks``.

    Args:
        top: ``[Q, K_max]`` ranked item ids per query, best first; ``-1``: empty slot.
        num_items: catalogue size.
        popularity: ``[num_items]`` training degree of each item.
        num_users: how many could interact with an item (novelty's denominator).
        heldout: ``[P]`` item ids of the held-out positives, for ``heldout_popularity``.
        ks: cut-offs (each ``<= K_max``).
        categories, emb: for ``diversity@K`` (see :func:`intra_list_diversity`); neither:
            no diversity key.

    Returns:
        ``{"coverage@K", "gini@K", "popularity@K", "novelty@K", "diversity@K",
        "heldout_popularity"}`` as floats.
    """
    out = {}
    for k in ks:
        t = top[:, :k]
        out[f"coverage@{k}"] = coverage(t, num_items)
        out[f"gini@{k}"] = gini(exposure(t, num_items))
        out[f"popularity@{k}"] = mean_popularity(t, popularity)
        out[f"novelty@{k}"] = novelty(t, popularity, num_users)
        if categories is not None or emb is not None:
            out[f"diversity@{k}"] = intra_list_diversity(t, categories, emb)
    if heldout is not None:
        out["heldout_popularity"] = float(popularity[heldout].double().mean()) \
            if heldout.numel() else float("nan")
    return {k: (v if not math.isinf(v) else float("nan")) for k, v in out.items()}
