"""Exact inner-product top-K, screened by bf16 scores with a proven error bound.

Why by hand: an exact top-K over a large catalogue (faiss's ``IndexFlatIP``, or a float32
matrix product plus ``torch.topk`` as in :func:`~graphrec.metrics.retrieval.topk_retrieval`)
scores every pair in float32 and sorts every row. On CPUs with bf16 matrix units (AMX) a
bf16 product runs about five times faster than float32, and ``topk`` over every row is
slower than either. No well-kept library turns fast bf16 scores into an *exact* answer
(faiss's bf16 and scalar-quantized indices are approximate); here they only screen, and
the pairs the bound cannot rule out are rescored in float32:

1. Candidates are sorted by norm, largest first. The ``seed`` largest are ranked exactly
   (float32), which gives every query a lower bound ``s_k`` on its true ``k``-th best.
2. The rest are scored in bf16, a tile at a time. Excluded pairs (known friends, the user)
   are set to zero; the maxima of 8 and of 64 rows, read as int16 bit patterns (which
   order positive bf16 values as the values), find the few pairs at or above
   ``s_k - MARGIN |q| max|c|``, and only those are rescored in float32 and merged into the
   running top-``k``, which raises ``s_k``.
3. In the first tiles the ``k`` largest group maxima (``k`` distinct candidates) tighten
   the bound further, and a query leaves the scan once ``|q|`` times the tile's largest
   norm falls below its ``s_k``: norms only fall from there.

The bound: with bf16's unit roundoff ``u = 2^-8``, rounding the inputs moves ``q.c`` by at
most ``(2u + u^2)|q||c|``, float32 accumulation adds ``d 2^-24`` of ``|q||c|``, and rounding
the output adds ``u`` of it, so every bf16 score is within ``3.01u |q||c|`` of the exact
one; ``MARGIN = 4u`` leaves room for an output that is truncated rather than rounded.
A pair is dropped only when its bf16 score is below the threshold, so every pair of the
exact top-``k`` is rescored: the answer is the float32 top-``k``, and pairs tied to float32
precision may come out in either order, as between any two exact implementations.

Queries whose ``k``-th best does not stay above the margin (fewer than ``k`` admissible
candidates, or top scores near zero or negative, where int16 keys stop ordering) are
ranked by the plain float32 path, as are non-finite inputs.
"""

from __future__ import annotations

import functools
import math
import time

import torch
from torch import Tensor

from graphrec.metrics.retrieval import _GroupedPairs, topk_retrieval

SUB = 8  # rows per sub-group maximum; 8 of them make a group of 64
MARGIN = 4 * 2.0**-8  # |bf16 score - exact| <= MARGIN |q| |c| (module docstring)
REFRESH_TILES = 4  # tiles whose group maxima tighten the bound; later it is tight already
# Rescoring a pair costs about 300 pairs of the plain product: past 3 tiles, a screen that
# rescores more than 0.3% of the pairs it scanned (beyond 8k per query) stops.
GIVE_UP_AFTER, GIVE_UP_FRACTION, GIVE_UP_SLACK = 3, 0.003, 8


@functools.cache
def bf16_is_fast() -> bool:
    """Whether a bf16 product runs at least twice as fast as float32 on this CPU.

    Without bf16 matrix units the bf16 product is emulated and slower than float32, and
    screening would lose; measured once per process (about 0.1 s), on the shapes used.
    """
    def rate(dtype):
        a = torch.randn(4096, 64).to(dtype)
        b = torch.randn(64, 512).to(dtype)
        out = torch.empty(4096, 512, dtype=dtype)
        torch.matmul(a, b, out=out)
        start = time.perf_counter()
        for _ in range(5):
            torch.matmul(a, b, out=out)
        return time.perf_counter() - start

    return 2 * rate(torch.bfloat16) < rate(torch.float32)


def screened_topk(query_emb: Tensor, cand_emb: Tensor, k: int,
                  exclude_index: Tensor | None = None, block: int = 1024,
                  tile: int = 16384, seed: int = 4096,
                  stats: dict | None = None) -> tuple[Tensor, Tensor]:
    """Exact top-``k`` candidates by inner product, as :func:`topk_retrieval` returns them.

    Args:
        query_emb: ``[Q, D]``.
        cand_emb: ``[N, D]``.
        k: list length (``k <= N``).
        exclude_index: ``[2, E]`` (query position, candidate id) pairs never returned.
        block: queries screened together.
        tile: candidates scored per bf16 product (a multiple of 64).
        seed: candidates of largest norm ranked exactly first, for every query's bound.
        stats: if given, filled with the work done: ``tiles`` (bf16 products),
            ``rescored`` (pairs scored in float32), ``fallback`` (queries ranked plainly).

    Returns:
        ``(scores [Q, k], indices [Q, k])``, float32 scores sorted decreasing; ``-inf`` and
        ``-1`` where a query has fewer than ``k`` admissible candidates.
    """
    num_c = cand_emb.size(0)
    if not 0 < k <= num_c:
        raise ValueError(f"k must be in [1, {num_c}], got {k}")
    if tile % (SUB * SUB):
        raise ValueError(f"tile must be a multiple of {SUB * SUB}, got {tile}")
    q_all = query_emb.float()
    c = cand_emb.float()
    cnorm = c.norm(dim=1)
    plain = (query_emb.device.type != "cpu" or num_c <= seed + tile
             or not (torch.isfinite(q_all).all() and torch.isfinite(cnorm).all()))
    if plain:
        # Non-finite inputs keep the plain path's behaviour (it raises or ranks them as it
        # does); a catalogue of one tile has nothing to screen; accelerators score fast.
        return topk_retrieval(q_all, c, k, exclude_index, chunk_size=block)
    with torch.no_grad():
        screen = _Screen(q_all, c, cnorm, k, exclude_index, block, tile, seed)
        out = screen.run()
    if stats is not None:
        stats.update(screen.stats)
    return out


class _Screen:
    """State shared by the query blocks: the sorted candidates and the exclusions."""

    def __init__(self, q, c, cnorm, k, exclude_index, block, tile, seed):
        self.q, self.c_orig, self.k, self.block, self.tile = q, c, k, block, tile
        n, d = c.shape
        self.order = cnorm.argsort(descending=True)
        self.pos = torch.empty_like(self.order)
        self.pos[self.order] = torch.arange(n)
        self.c = c[self.order]  # float32, sorted: the rescoring reads rows of it
        self.cmax = float(cnorm[self.order[0]])
        self.seed = seed = max(k, min(seed, n))
        self.n_tiles = math.ceil((n - seed) / tile)
        # Padding rows score 0, below every positive threshold.
        self.c_bf = torch.zeros(self.n_tiles * tile, d, dtype=torch.bfloat16)
        self.c_bf[:n - seed] = self.c[seed:]
        self.tile_max = cnorm[self.order[seed::tile]].tolist()  # largest norm of each tile
        self.stats = dict.fromkeys(("blocks", "tiles", "rescored", "fallback"), 0)
        self.gave_up = False
        self.exclude = None
        if exclude_index is not None and exclude_index.numel():
            self.exclude = _GroupedPairs.build(exclude_index[0], exclude_index[1], q.size(0), n)

    def run(self) -> tuple[Tensor, Tensor]:
        num_q = self.q.size(0)
        top_s = torch.full((num_q, self.k), float("-inf"))
        top_i = torch.full((num_q, self.k), -1, dtype=torch.long)
        fallback = []
        for start in range(0, num_q, self.block):
            end = min(start + self.block, num_q)
            if self.gave_up:  # geometry the screen cannot prune: the rest go plain too
                fallback.append(torch.arange(start, end))
                continue
            s, i, unsure = self._block(start, end)
            top_s[start:end], top_i[start:end] = s, i
            fallback.append(unsure.nonzero().view(-1) + start)
        redo = torch.cat(fallback) if fallback else torch.empty(0, dtype=torch.long)
        self.stats["fallback"] = redo.numel()
        if redo.numel():
            ex = None
            if self.exclude is not None:
                ex = self._exclusions_of(redo)
            top_s[redo], top_i[redo] = topk_retrieval(self.q[redo], self.c_orig, self.k, ex,
                                                      chunk_size=self.block)
        return top_s, top_i

    def _exclusions_of(self, queries: Tensor) -> Tensor:
        """Exclusion pairs of ``queries``, renumbered to positions in that list."""
        where = torch.full((self.q.size(0),), -1, dtype=torch.long)
        where[queries] = torch.arange(queries.numel())
        row = where[self.exclude.row]
        keep = row >= 0
        return torch.stack([row[keep], self.exclude.col[keep]])

    def _block(self, start: int, end: int):
        k, tile, seed, b = self.k, self.tile, self.seed, end - start
        q = self.q[start:end]
        qnorm = q.norm(dim=1)
        self.stats["blocks"] += 1

        # Exclusions of this block, (sorted position, query): the seed's, then each tile's.
        ex_rows = ex_pos = None
        bounds = [0] * (self.n_tiles + 2)
        if self.exclude is not None:
            row, col, _ = self.exclude.chunk(start, end)
            p = self.pos[col]
            t_of = torch.where(p < seed, 0, (p - seed) // tile + 1)
            perm = t_of.argsort(stable=True)
            ex_rows, ex_pos = row[perm], p[perm]
            counts = torch.bincount(t_of, minlength=self.n_tiles + 1)
            bounds = [0, *torch.cumsum(counts, 0).tolist()]

        # The seed (largest norms), exact: its k-th best admissible score bounds the true
        # k-th best from below, and the bound only rises as pairs are rescored.
        s0 = q @ self.c[:seed].T  # [B, seed] float32
        if bounds[1]:
            s0[ex_rows[:bounds[1]], ex_pos[:bounds[1]]] = float("-inf")
        best_s, best_p = s0.topk(k, dim=1)  # [B, k], exact, sorted
        del s0

        top_keys_all = torch.zeros(b, k, dtype=torch.int16)  # k largest group maxima seen
        cols = torch.arange(b)  # block rows of the queries still scanned
        col_of = torch.arange(b)  # block row -> column, -1 once a query is done
        qt = q.T.to(torch.bfloat16).contiguous()
        buffer = torch.empty(tile * b, dtype=torch.bfloat16)
        lane = torch.arange(SUB)
        rescored = scanned = 0
        for t in range(self.n_tiles):
            # A query is done when no candidate from here on (norms only fall) can beat
            # its k-th best: those leave the product, the rest go on.
            active = qnorm[cols] * self.tile_max[t] >= best_s[cols, -1]
            if not bool(active.all()):
                if not bool(active.any()):
                    break
                if active.sum() <= 0.9 * cols.numel():
                    col_of[cols[~active]] = -1
                    cols = cols[active]
                    col_of[cols] = torch.arange(cols.numel())
                    qt = q[cols].T.to(torch.bfloat16).contiguous()
            w = cols.numel()
            top_keys = top_keys_all[cols]
            self.stats["tiles"] += 1
            first = seed + t * tile
            scores = buffer[:tile * w].view(tile, w)
            torch.matmul(self.c_bf[t * tile:(t + 1) * tile], qt, out=scores)
            scanned += tile * w
            keys = scores.view(torch.int16)
            lo, hi = bounds[t + 1], bounds[t + 2]
            if hi > lo:
                ec = col_of[ex_rows[lo:hi]]
                on = ec >= 0
                keys.view(-1).index_fill_(0, (ex_pos[lo:hi][on] - first) * w + ec[on], 0)
            # Maxima of 8 rows, then of 8 of those: a query whose threshold a group of 64
            # passes then reads 8 strided values at a time, not 64.
            sub = keys.view(tile // SUB, SUB, w)
            smax = sub.amax(1)  # [tile / 8, w]
            gmax = smax.view(-1, SUB, w).amax(1)  # [tile / 64, w]
            bound = best_s[cols, -1]
            if t < REFRESH_TILES:
                # Early on the k-th best is still loose; the k largest group maxima (k
                # distinct candidates, each within the margin of its bf16 score) tighten it
                # before this tile is screened.
                top_keys = torch.cat([top_keys, gmax.T], 1).topk(k, dim=1).values
                top_keys_all[cols] = top_keys
                from_groups = top_keys[:, -1].view(torch.bfloat16).float()
                bound = torch.maximum(bound, from_groups - MARGIN * qnorm[cols] * self.cmax)
            thr = self._key_at_or_below(bound - MARGIN * qnorm[cols] * self.tile_max[t])
            g, qc = (gmax >= thr).nonzero(as_tuple=True)
            if g.numel() == 0:
                continue
            qthr = thr[qc][:, None]
            pi, j = (smax.view(-1, SUB, w)[g[:, None], lane, qc[:, None]] >= qthr
                     ).nonzero(as_tuple=True)
            sg, qc, qthr = g[pi] * SUB + j, qc[pi], qthr[pi]
            pi, j = (sub[sg[:, None], lane, qc[:, None]] >= qthr).nonzero(as_tuple=True)
            qi = cols[qc[pi]]
            p = first + sg[pi] * SUB + j
            self.stats["rescored"] += p.numel()
            best_s, best_p = self._merge(best_s, best_p, qi, p, (q[qi] * self.c[p]).sum(1))
            # When the bound prunes too little (rows alike in score, say), stop screening.
            rescored += p.numel()
            allowed = GIVE_UP_FRACTION * scanned + GIVE_UP_SLACK * k * b
            if t >= GIVE_UP_AFTER and rescored > allowed:
                self.gave_up = True
                break
        ids = self.order[best_p]
        top_i = torch.where(torch.isfinite(best_s), ids, torch.full_like(ids, -1))
        # The int16 keys order positive scores only, so a screen is sound when the k-th
        # best found stays above the margin: others are redone by the plain path.
        unsure = ~(best_s[:, -1] - MARGIN * qnorm * self.cmax > 0) | self.gave_up
        return best_s, top_i, unsure

    def _merge(self, best_s, best_p, qi, p, s):
        """Running top-``k`` per query updated with rescored pairs ``(qi, p, s)``."""
        k = self.k
        s = torch.where(torch.isfinite(s), s, torch.full_like(s, float("-inf")))
        by_query = qi.argsort(stable=True)
        qi, p, s = qi[by_query], p[by_query], s[by_query]
        rows, counts = torch.unique_consecutive(qi, return_counts=True)
        start = torch.cumsum(counts, 0) - counts
        col = torch.arange(qi.numel()) - torch.repeat_interleave(start, counts)
        width = k + int(counts.max())
        pad_s = torch.full((rows.numel(), width), float("-inf"))
        pad_p = torch.zeros((rows.numel(), width), dtype=torch.long)
        pad_s[:, :k], pad_p[:, :k] = best_s[rows], best_p[rows]
        slot = torch.repeat_interleave(torch.arange(rows.numel()), counts)
        pad_s[slot, k + col], pad_p[slot, k + col] = s, p
        top, at = pad_s.topk(k, dim=1)
        best_s[rows], best_p[rows] = top, pad_p.gather(1, at)
        return best_s, best_p

    @staticmethod
    def _key_at_or_below(value: Tensor) -> Tensor:
        """int16 key of the largest bf16 at or below ``value`` (at least 1: keys <= 0,
        zero and negative scores, never pass)."""
        near = value.to(torch.bfloat16)
        keys = near.view(torch.int16)
        keys = torch.where(near.float() > value, keys - 1, keys)  # one step down if above
        return torch.where(value > 0, keys, torch.ones_like(keys))
