"""What a link task reports on val/test, whatever scores its pairs (a decoder or a heuristic).

* Sampled ranking (MRR, Hits@K against each positive's fixed negatives) and ROC-AUC / AP.
* The same per segment of the source node's training degree, so cold-start users are seen
  apart: ``split/task/metric/deg_0-2``. Degree is counted in the split's message-passing
  graph (train edges for val, train + val for test), never in the full graph, which would
  leak the held-out edges into the segment a pair falls in.
* With shared negatives (``target["shared_neg"]``, the Planetoid protocol of NCN and OGB's
  collab/ppa): Hits@K of every positive against all of them, ``shared_hits@K``, computed by
  OGB's own evaluator.
* Optionally, full filtered ranking (Recall@K, NDCG@K, MRR over every candidate of the target
  type, known positives of the message-passing graph excluded): ``recall@K``, ``ndcg@K``,
  ``full_mrr``; and beyond-accuracy metrics of those top-K lists (:mod:`graphrec.metrics.beyond`):
  ``coverage@K``, ``gini@K``, ``popularity@K`` against ``heldout_popularity``,
  ``novelty@K`` and ``diversity@K``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from graphrec.metrics.beyond import beyond_accuracy
from graphrec.metrics.classification import binary_metrics
from graphrec.metrics.finite import check_finite
from graphrec.metrics.official import official_metrics
from graphrec.metrics.ranking import ranking_metrics, sampled_ranks
from graphrec.metrics.retrieval import full_ranking_metrics

PairScore = Callable[[Tensor, Tensor], Tensor]  # (src [...], dst [...]) broadcast -> [...]
# What full ranking scores: (query rows [Q, ...], candidate rows [N, ...], ``(q, c) -> [C, N]``).
FullScorer = tuple[Tensor, Tensor, Callable[[Tensor, Tensor], Tensor]]

DEFAULT_DEGREE_BUCKETS = (3, 11)
SHARED_KS = (20, 50, 100)


def shared_hits(pos: Tensor, neg: Tensor, ks: Sequence[int]) -> dict[str, float]:
    """OGB's Hits@K: positives ``[P]`` scoring above the K-th best shared negative ``[N]``."""
    from ogb.linkproppred import Evaluator

    evaluator = Evaluator("ogbl-collab")  # any shared-negative dataset; K is set per call
    out = {}
    for k in ks:
        evaluator.K = k
        out[f"shared_hits@{k}"] = float(
            evaluator.eval({"y_pred_pos": pos, "y_pred_neg": neg})[f"hits@{k}"])
    return out


def segment_names(buckets: Sequence[int]) -> list[str]:
    """``[3, 11]`` -> ``["deg_0-2", "deg_3-10", "deg_11+"]``."""
    bounds = [0, *buckets]
    names = [f"deg_{lo}-{hi - 1}" for lo, hi in zip(bounds, bounds[1:], strict=False)]
    return [*names, f"deg_{bounds[-1]}+"]


def check_buckets(buckets: Sequence[int] | None) -> list[int]:
    buckets = list(buckets or [])
    if any(b <= 0 for b in buckets) or buckets != sorted(set(buckets)):
        raise ValueError(
            f"degree_buckets={buckets}: give increasing positive lower bounds of the segments "
            "after the first, e.g. [3, 11] for 0-2, 3-10, 11+ (or null for no segments)")
    return buckets


def segment_of(degree: Tensor, buckets: Sequence[int]) -> Tensor:
    """Segment id of each degree: ``i`` where ``buckets[i-1] <= degree < buckets[i]``."""
    return torch.bucketize(degree, torch.as_tensor(list(buckets), dtype=degree.dtype),
                           right=True)


def source_degree(graph, edge_type) -> Tensor:
    """Out-degree of every source node in the relation, in ``graph`` (the split's own)."""
    return torch.bincount(graph[edge_type].edge_index[0],
                          minlength=graph[edge_type[0]].num_nodes)


def sampled_link_metrics(pos: Tensor, neg: Tensor) -> dict[str, float]:
    """MRR, Hits@1/10/50 of positives ``[P]`` against their negatives ``[P, K]``; AUC, AP."""
    out = ranking_metrics(sampled_ranks(pos, neg))
    out.update(binary_metrics(pos, neg))
    return out


def _segmented(metrics_of, segment: Tensor, names: list[str], count_name: str) -> dict:
    """Runs ``metrics_of(mask)`` per segment: ``{metric/seg: v, count_name/seg: n}``."""
    out = {}
    for i, name in enumerate(names):
        mask = segment == i
        out[f"{count_name}/{name}"] = int(mask.sum())
        if mask.any():
            out.update({f"{k}/{name}": v for k, v in metrics_of(mask).items()})
    return out


def evaluate_link(
    score: PairScore,
    target: dict,
    graph,
    edge_type,
    *,
    symmetric: bool = False,
    chunk: int = 4096,
    degree_buckets: Sequence[int] | None = DEFAULT_DEGREE_BUCKETS,
    full: FullScorer | None = None,
    ks: Sequence[int] = (10, 20, 50),
    ranking_chunk: int = 256,
    sink: dict | None = None,
) -> dict[str, float]:
    """All link metrics of one split (see the module docstring for the keys).

    Args:
        score: scores of (source, target) id pairs, broadcasting ``[P, 1]`` against ``[P, K]``.
        target: ``{"pos": [2, P], "neg": [P, K]}``, and, with an inductive split, the same
            for the new users under ``"new_users"`` (metrics ``new_users/<metric>``).
        graph: the split's message-passing graph (degrees and exclusions come from it).
        edge_type: the task's relation.
        symmetric: unordered pairs; full ranking then ranks from both ends of each positive.
        chunk: positives scored at once against their negatives.
        degree_buckets: lower degree bounds of the segments after the first; None: none.
        full: what full ranking scores, or None to skip it.
        ks, ranking_chunk: cut-offs and queries per block of the full ranking.
        sink: a dict that receives the popularity of the recommended and of the held-out
            items (``popularity_recommended``, ``popularity_heldout``), for the plot.
    """
    pos, neg = target["pos"], target["neg"]
    pos_scores, neg_scores = [], []
    for i in range(0, pos.size(1), chunk):
        p, n = pos[:, i:i + chunk], neg[i:i + chunk]
        pos_scores.append(score(p[0], p[1]))
        neg_scores.append(score(p[0][:, None], n))
    # Native precision: casting float64 heuristic scores (Katz) to float32 would merge
    # distinct scores into ties.
    pos_s, neg_s = torch.cat(pos_scores), torch.cat(neg_scores)
    check_finite(pos_s, neg_s)  # once for all of the split's scores, before any metric
    out = sampled_link_metrics(pos_s, neg_s)
    buckets = check_buckets(degree_buckets)
    degree = source_degree(graph, edge_type) if buckets or full is not None else None
    if buckets:
        names = segment_names(buckets)
        out.update(_segmented(lambda m: sampled_link_metrics(pos_s[m], neg_s[m]),
                              segment_of(degree[pos[0]], buckets), names, "n_pos"))
    if "ogb" in target:  # the dataset's official metric, by its own evaluator
        shared = target.get("ogb_neg")
        shared_s = None
        if shared is not None:
            shared_s = torch.cat([score(shared[0, i:i + chunk], shared[1, i:i + chunk])
                                  for i in range(0, shared.size(1), chunk)])
        out.update(official_metrics(target["ogb"], pos_s, neg_s, shared_s))
    if "shared_neg" in target:
        shared = target["shared_neg"]
        shared_s = torch.cat([score(shared[0, i:i + chunk], shared[1, i:i + chunk])
                              for i in range(0, shared.size(1), chunk)]).float()
        out.update(shared_hits(pos_s, shared_s, SHARED_KS))
    if full is not None:
        out.update(_full_ranking(full, pos, graph, edge_type, symmetric, degree, buckets, ks,
                                 ranking_chunk, sink))
    if "new_users" in target:  # inductive split: users unseen in training, ranked apart
        new = evaluate_link(score, target["new_users"], graph, edge_type, symmetric=False,
                            chunk=chunk, degree_buckets=degree_buckets, full=full, ks=ks,
                            ranking_chunk=ranking_chunk)
        out.update({f"new_users/{k}": v for k, v in new.items()})
    return out


def _full_ranking(full: FullScorer, pos: Tensor, graph, edge_type, symmetric: bool,
                  degree: Tensor, buckets: list[int], ks, ranking_chunk: int,
                  sink: dict | None = None) -> dict:
    """Full filtered ranking, per degree segment and overall (query-weighted mean)."""
    query_rows, cand_rows, score_fn = full
    positives = torch.cat([pos, pos.flip(0)], 1) if symmetric else pos
    known = graph[edge_type].edge_index
    num_items = graph[edge_type[2]].num_nodes
    popularity = torch.bincount(known[1], minlength=num_items)  # before self-pairs join it
    tops = []
    if edge_type[0] == edge_type[2]:  # a node is never its own candidate
        loops = torch.arange(graph[edge_type[0]].num_nodes, device=known.device)
        known = torch.cat([known, torch.stack([loops, loops])], 1)

    def ranked(mask: Tensor) -> dict:
        m, _, top = full_ranking_metrics(query_rows, cand_rows, positives[:, mask], known,
                                         ks=ks, chunk_size=ranking_chunk, score_fn=score_fn,
                                         return_top=True)
        tops.append(top)
        m["full_mrr"] = m.pop("mrr")
        return m

    queries = torch.unique(positives[0])
    names = segment_names(buckets) if buckets else ["all"]
    query_segment = segment_of(degree[queries], buckets) if buckets else \
        torch.zeros_like(queries)
    per_query = torch.full((int(queries.max()) + 1 if len(queries) else 0,), -1,
                           dtype=torch.long, device=queries.device)
    per_query[queries] = query_segment
    pair_segment = per_query[positives[0]]
    seg = _segmented(ranked, pair_segment, names, "n_pos")
    # Every query lies in one segment, so the overall metric is the query-weighted mean.
    counts = torch.bincount(query_segment, minlength=len(names)).tolist()
    total = sum(counts)
    keys = {k.rsplit("/", 1)[0] for k in seg if not k.startswith("n_pos/")}
    out = {k: sum(seg[f"{k}/{n}"] * c for n, c in zip(names, counts, strict=False) if c)
           / total for k in keys} if total else {}
    if buckets:
        out.update({k: v for k, v in seg.items() if not k.startswith("n_pos/")})
        out.update({f"n_queries/{n}": c for n, c in zip(names, counts, strict=False)})
    if tops:
        top = torch.cat(tops)
        out.update(_beyond(top, graph, edge_type, popularity, positives[1], ks, cand_rows))
        if sink is not None:
            sink["popularity_recommended"] = popularity[top[top >= 0]].cpu()
            sink["popularity_heldout"] = popularity[positives[1]].cpu()
            sink["k"] = top.size(1)
    return out


# Node attributes that name a category for intra-list diversity, first found wins.
CATEGORY_KEYS = ("community", "topic", "category")


def _beyond(top: Tensor, graph, edge_type, popularity: Tensor, heldout: Tensor, ks,
            cand_rows: Tensor) -> dict:
    """Beyond-accuracy metrics of the full ranking's lists (every evaluated query once)."""
    store = graph[edge_type[2]]
    categories = next((store[k] for k in CATEGORY_KEYS if k in store), None)
    # Without categories, diversity is by the candidates' own embeddings, when they are any
    # (a heuristic's candidate rows are plain ids).
    emb = cand_rows if categories is None and cand_rows.is_floating_point() \
        and cand_rows.dim() == 2 else None
    ks = [k for k in sorted(set(ks)) if k <= top.size(1)]
    return beyond_accuracy(top, store.num_nodes, popularity, graph[edge_type[0]].num_nodes,
                           heldout, ks, categories, emb)
