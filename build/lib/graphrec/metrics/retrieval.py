"""Full, filtered ranking over the whole candidate catalogue.

Sampled-negative metrics overestimate quality on recommendation tasks, so evaluation here
ranks *every* candidate for each query, after removing the query's already known
positives (training edges, plus validation edges when testing). Work is done in chunks of
queries so that only a ``[chunk_size, num_candidates]`` score block is alive at a time.

Known positives are grouped by query once (sorted, CSR-like row pointers), so each chunk
masks its exclusions with one slice and one flat ``index_fill_``, with no per-query loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from graphrec.metrics.finite import check_finite

ScoreFn = Callable[[Tensor, Tensor], Tensor]


def dot_score(query_emb: Tensor, cand_emb: Tensor) -> Tensor:
    """Inner-product decoder: ``[Q, D] x [N, D] -> [Q, N]``."""
    return query_emb @ cand_emb.T


@dataclass
class _GroupedPairs:
    """(row, col) pairs deduplicated and sorted by row, with CSR row pointers."""

    rowptr: list[int]  # a Python list: chunk slicing then needs no device sync
    row: Tensor
    col: Tensor
    keys: Tensor  # row * num_cols + col, sorted ascending

    @classmethod
    def build(cls, row: Tensor, col: Tensor, num_rows: int, num_cols: int) -> _GroupedPairs:
        keys = torch.unique(row * num_cols + col)  # sorts and removes duplicates
        row = keys // num_cols
        counts = torch.bincount(row, minlength=num_rows)
        rowptr = [0, *torch.cumsum(counts, 0).tolist()]
        return cls(rowptr, row, keys % num_cols, keys)

    def chunk(self, start: int, end: int) -> tuple[Tensor, Tensor, Tensor]:
        """Rows (relative to ``start``), columns and keys of rows ``[start, end)``."""
        lo, hi = self.rowptr[start], self.rowptr[end]
        return self.row[lo:hi] - start, self.col[lo:hi], self.keys[lo:hi]


def _masked_scores(
    query_chunk: Tensor,
    cand_emb: Tensor,
    score_fn: ScoreFn,
    exclude: _GroupedPairs | None,
    start: int,
    finite: bool = False,
) -> Tensor:
    """Scores ``[C, N]`` of one query chunk with excluded entries set to ``-inf``.

    With ``finite``, raises :class:`~graphrec.utils.errors.NonFiniteError` on any NaN/inf
    score, checked before masking, since ``-inf`` is the exclusion mark afterwards.
    """
    scores = score_fn(query_chunk, cand_emb).contiguous()  # flat indexing needs a dense view
    if finite:
        check_finite(scores)
    if exclude is not None:
        row, col, _ = exclude.chunk(start, start + query_chunk.size(0))
        scores.view(-1).index_fill_(0, row * scores.size(1) + col, float("-inf"))
    return scores


def topk_retrieval(
    query_emb: Tensor,
    cand_emb: Tensor,
    k: int,
    exclude_index: Tensor | None = None,
    chunk_size: int = 256,
    score_fn: ScoreFn = dot_score,
) -> tuple[Tensor, Tensor]:
    """Top-``k`` candidates for every query, with known positives excluded.

    Args:
        query_emb: Query embeddings ``[Q, D]``.
        cand_emb: Candidate embeddings ``[N, D]``.
        k: Number of candidates to return per query (``k <= N``).
        exclude_index: ``[2, E]`` (query id, candidate id) pairs that must never be
            returned, e.g. the training interactions. ``None`` excludes nothing.
        chunk_size: Queries scored per block; peak memory is about
            ``chunk_size * N`` scores.
        score_fn: Decoder mapping ``([C, D], [N, D])`` to scores ``[C, N]``.

    Returns:
        ``(scores [Q, k], indices [Q, k])`` sorted by decreasing score. When a query has
        fewer than ``k`` admissible candidates the tail has score ``-inf`` and index
        ``-1`` (a score of ``-inf`` from ``score_fn`` is treated as excluded too).
    """
    num_queries, num_cands = query_emb.size(0), cand_emb.size(0)
    if not 0 < k <= num_cands:
        raise ValueError(f"k must be in [1, {num_cands}], got {k}")
    exclude = None
    if exclude_index is not None:
        exclude_index = exclude_index.to(query_emb.device)
        exclude = _GroupedPairs.build(exclude_index[0], exclude_index[1], num_queries, num_cands)

    # Filled in place: concatenating per-chunk results would briefly hold them twice.
    # The score dtype is the decoder's, known at the first block: queries may be plain ids.
    top_scores = None
    top_index = torch.empty(num_queries, k, dtype=torch.long, device=query_emb.device)
    for start in range(0, num_queries, chunk_size):
        end = min(start + chunk_size, num_queries)
        # No name keeps the block alive, so it is freed before the next chunk's is made.
        values, index = _masked_scores(
            query_emb[start:end], cand_emb, score_fn, exclude, start
        ).topk(k, dim=1)
        if top_scores is None:
            top_scores = values.new_empty(num_queries, k)
        top_scores[start:end] = values
        top_index[start:end] = index.masked_fill_(values == float("-inf"), -1)
    if top_scores is None:  # no queries
        top_scores = torch.empty(0, k, device=query_emb.device)
    return top_scores, top_index


def full_ranking_metrics(
    query_emb: Tensor,
    cand_emb: Tensor,
    positives: Tensor,
    exclude: Tensor | None = None,
    ks: Sequence[int] = (10, 20, 50),
    chunk_size: int = 256,
    score_fn: ScoreFn = dot_score,
    return_top: bool = False,
):
    """Recall@K, NDCG@K and MRR from a full ranking of all candidates.

    Every query that has at least one held-out positive is evaluated; its candidates are
    all ``N`` rows of ``cand_emb`` minus its excluded items. Metrics are averaged over
    those queries.

    * Recall@K: relevant items in the top ``K`` divided by the number of relevant items.
    * NDCG@K: binary gains, discount ``1 / log2(rank + 1)``, normalised by the ideal DCG
      of ``min(#relevant, K)`` hits. Ties inside the top-``K`` are ordered by
      ``torch.topk``.
    * MRR: exact reciprocal rank of the best-scored relevant item in the full ranking
      (not truncated at any ``K``). Ties use the OGB rule, the mean of the optimistic and
      pessimistic rank: ``rank = 1 + #higher + 0.5 * #tied``, counting admissible
      non-relevant candidates only (other relevant items never push the first one down).

    A pair that is both a positive and excluded is treated as a positive, so leakage
    between splits cannot make a relevant item unrankable. Scores must be finite, since
    ``-inf`` marks exclusion: a NaN or infinite score raises
    :class:`~graphrec.utils.errors.NonFiniteError`.

    Args:
        query_emb: Query embeddings ``[Q, D]``, indexed by global query id.
        cand_emb: Candidate embeddings ``[N, D]``.
        positives: Held-out relevant pairs ``[2, P]`` (query id, candidate id).
        exclude: Known positives ``[2, E]`` removed from the ranking, or ``None``.
        ks: Cut-offs for Recall@K and NDCG@K.
        chunk_size: Queries scored per block; peak memory is about
            ``2.25 * chunk_size * N`` float32 scores (the block and the rank counts).
        score_fn: Decoder mapping ``([C, D], [N, D])`` to scores ``[C, N]``.
        return_top: also return the ranked lists, for beyond-accuracy metrics at no second
            scoring pass.

    Returns:
        ``{"recall@K": ..., "ndcg@K": ..., "mrr": ...}`` as Python floats (NaN when
        ``positives`` is empty). With ``return_top``, ``(metrics, queries [Q'],
        top [Q', max K])``: the evaluated query ids and their top candidates (``-1`` where
        fewer are admissible); held-out positives are ranked, known ones are not.
    """
    ks = sorted(set(ks))
    names = [f"{m}@{k}" for k in ks for m in ("recall", "ndcg")] + ["mrr"]
    if positives.size(1) == 0:
        empty = dict.fromkeys(names, float("nan"))
        if return_top:
            k_top = min(ks[-1], cand_emb.size(0))
            none = positives.new_empty(0)
            return empty, none, none.new_empty(0, k_top)
        return empty
    device, num_cands = query_emb.device, cand_emb.size(0)
    positives = positives.to(device)
    # Evaluated queries get compact ids 0..Q'-1 so chunks are contiguous id ranges.
    queries, pos_row = torch.unique(positives[0], return_inverse=True)
    pos = _GroupedPairs.build(pos_row, positives[1], len(queries), num_cands)
    excl = None
    if exclude is not None:
        exclude = exclude.to(device)
        loc = torch.searchsorted(queries, exclude[0]).clamp_(max=len(queries) - 1)
        keep = queries[loc] == exclude[0]  # drop exclusions of non-evaluated queries
        excl_keys = loc[keep] * num_cands + exclude[1][keep]
        keep = ~torch.isin(excl_keys, pos.keys)  # positives win over exclusions
        excl = _GroupedPairs.build(
            excl_keys[keep] // num_cands, excl_keys[keep] % num_cands, len(queries), num_cands
        )

    k_max = min(ks[-1], num_cands)
    discount = 1.0 / torch.log2(torch.arange(2, k_max + 2, device=device, dtype=torch.float64))
    ideal_dcg = torch.cumsum(discount, 0)  # ideal_dcg[n - 1]: DCG of n hits at the top
    totals = dict.fromkeys(names, 0.0)
    tops = []

    for start in range(0, len(queries), chunk_size):
        scores = _masked_scores(
            query_emb[queries[start : start + chunk_size]], cand_emb, score_fn, excl, start,
            finite=True,
        )
        rows = scores.size(0)
        rel_row, rel_col, rel_keys = pos.chunk(start, start + rows)
        num_rel = torch.bincount(rel_row, minlength=rows).double()

        # Recall / NDCG: look the top-k (row, item) keys up among the relevant keys.
        top_values, top = scores.topk(k_max, dim=1)
        if return_top:
            tops.append(top.masked_fill(top_values == float("-inf"), -1))
        row_ids = torch.arange(start, start + rows, device=device).unsqueeze(1)
        hits = torch.isin(row_ids * num_cands + top, rel_keys).double()
        for k in ks:
            kk = min(k, k_max)
            totals[f"recall@{k}"] += (hits[:, :kk].sum(1) / num_rel).sum().item()
            dcg = (hits[:, :kk] * discount[:kk]).sum(1)
            idcg = ideal_dcg[num_rel.clamp(max=kk).long() - 1]
            totals[f"ndcg@{k}"] += (dcg / idcg).sum().item()

        # MRR: compare every admissible candidate with the row's best relevant score.
        rel_scores = scores[rel_row, rel_col]
        best = scores.new_full((rows,), float("-inf"))
        best.scatter_reduce_(0, rel_row, rel_scores, reduce="amax")
        tied_rel = torch.bincount(rel_row[rel_scores == best[rel_row]], minlength=rows)
        # int32 sums: a plain bool sum casts the whole mask to int64, 2x the score block.
        higher = (scores > best.unsqueeze(1)).sum(1, dtype=torch.int32)
        tied = (scores == best.unsqueeze(1)).sum(1, dtype=torch.int32) - tied_rel
        totals["mrr"] += (1.0 / (1.0 + higher + 0.5 * tied.double())).sum().item()
        del scores  # otherwise it stays alive while the next chunk's block is computed

    metrics = {name: total / len(queries) for name, total in totals.items()}
    if return_top:
        return metrics, queries, torch.cat(tops)
    return metrics
