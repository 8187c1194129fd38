"""Top-K candidates of a trained model for a list of query nodes, known edges excluded.

Three scorers, one contract (``(scores [Q, K], index [Q, K])``, best first, ``-1`` where a
query has fewer admissible candidates):

* a bilinear decoder (``dot``, ``distmult``): the exact top-K, screened by bf16 scores
  where the CPU multiplies bf16 fast (:mod:`graphrec.metrics.screened_topk`), otherwise
  one chunked matrix product + top-K (:func:`graphrec.metrics.retrieval.topk_retrieval`),
  or an approximate faiss index (:mod:`graphrec.ann`) for large catalogues;
* any other decoder, including those that read the graph (NCN-style): ``task.score`` on
  (query, candidate) blocks, ``[C, 1]`` sources against ``[1, N]`` candidates;
* a heuristic (``model=heuristic``): its scorer on the same blocks of id pairs.
"""

from __future__ import annotations

import inspect

import torch
from torch import Tensor

from graphrec.metrics.retrieval import topk_retrieval
from graphrec.metrics.screened_topk import bf16_is_fast, screened_topk
from graphrec.models.decoders import DistMult, DotProduct

# Scores alive at once for a pairwise decoder: block rows * candidates * embedding width.
PAIRWISE_BUDGET = 2**24
# Scores alive at once on the matrix-product path (256 MB of float32): at a million
# candidates 1,024 query rows would be a 4 GB block.
SCORE_BUDGET = 2**26


def known_pairs(graph, edge_type, queries: Tensor, keep_self: bool = False) -> Tensor:
    """``[2, E]`` (position in ``queries``, candidate id) pairs to exclude.

    Every edge of ``edge_type`` from a query is known; for a relation within one type, the
    query itself too (unless ``keep_self``).
    """
    ei = graph[edge_type].edge_index
    n_src = graph[edge_type[0]].num_nodes
    pos = torch.full((n_src,), -1, dtype=torch.long)
    pos[queries] = torch.arange(queries.numel())
    row = pos[ei[0]]
    out = torch.stack([row, ei[1]])[:, row >= 0]
    if edge_type[0] == edge_type[2] and not keep_self:
        out = torch.cat([out, torch.stack([torch.arange(queries.numel()), queries])], 1)
    return out


def _accepts_graph(score) -> bool:
    try:
        return "graph" in inspect.signature(score).parameters
    except (TypeError, ValueError):
        return False


@torch.no_grad()
def embed(module, graph, datamodule=None) -> dict[str, Tensor] | None:
    """Node embeddings of ``graph`` (None for a heuristic, which has no encoder).

    Mini-batch runs (``data.loader=neighbor``) embed layer by layer with bounded memory, as
    their evaluation does.
    """
    encoder = getattr(module, "encoder", None)
    if encoder is None:
        return None
    module.eval()
    batches = getattr(datamodule, "minibatch", None)
    return encoder.inference(graph, batches.neighborhoods(graph) if batches is not None
                             else None)


def pair_scorer(module, task_name: str, z, graph):
    """``score(src [...], dst [...]) -> [...]`` (broadcast) of one task of ``module``."""
    task = module.tasks[task_name]
    if z is None:  # heuristic: scores on the global ids of the graph it is given
        s, _, d = task.edge_type
        sizes = [graph[nt].num_nodes for nt in module.node_types]
        offsets = torch.cumsum(torch.tensor([0, *sizes]), 0).tolist()
        module.offset = dict(zip(module.node_types, offsets))
        module.num_nodes = offsets[-1]  # new nodes may have joined since training
        scorer = module.scorer(graph, task.edge_type)

        def score(src, dst):
            src, dst = torch.broadcast_tensors(src, dst)
            pairs = torch.stack([src.reshape(-1) + module.offset[s],
                                 dst.reshape(-1) + module.offset[d]])
            return scorer(pairs).view(src.shape).float()

        return score
    if _accepts_graph(task.score):
        return lambda src, dst: task.score(z, src, dst, graph=graph)
    return lambda src, dst: task.score(z, src, dst)


@torch.no_grad()
def top_k(module, task_name: str, z, graph, queries: Tensor, k: int, exclude: Tensor | None,
          chunk: int = 1024, index: str = "exact", ann_options: dict | None = None):
    """Top-``k`` targets of ``task_name`` for each of ``queries [Q]`` (node ids).

    Args:
        module: the trained LightningModule (learned or heuristic).
        z: its embeddings of ``graph`` (:func:`embed`; None for a heuristic).
        graph: the graph scored on.
        queries: source node ids.
        k: list length (capped at the catalogue size).
        exclude: ``[2, E]`` (query position, candidate) pairs never returned.
        chunk: queries per block of the exact paths, at most (capped so a block holds no
            more than ``SCORE_BUDGET`` scores).
        index: ``exact`` or ``faiss`` (approximate, bilinear decoders only).
        ann_options: keyword arguments of :func:`graphrec.ann.faiss_topk`.

    Returns:
        ``(scores [Q, k], index [Q, k])``.
    """
    task = module.tasks[task_name]
    s, _, d = task.edge_type
    n_cand = graph[d].num_nodes
    k = min(k, n_cand)
    decoder = getattr(task, "decoder", None) if z is not None else None
    # A decoder that reads the graph (NCN-style) is another class: it takes the pair path.
    bilinear = isinstance(decoder, (DotProduct, DistMult))
    if index not in ("exact", "faiss"):
        raise ValueError(f"index={index!r}; choose exact or faiss")
    if bilinear:
        q = z[s][queries]
        if isinstance(decoder, DistMult):
            q = q * decoder.rel
        if index == "faiss":
            from graphrec.ann import faiss_topk

            return faiss_topk(q, z[d], k, exclude, **(ann_options or {}))
        if bf16_is_fast():  # same answer, screened by bf16 scores (screened_topk.py)
            return screened_topk(q, z[d], k, exclude)
        rows = max(1, min(chunk, SCORE_BUDGET // max(1, n_cand)))
        return topk_retrieval(q, z[d], k, exclude, chunk_size=rows)
    if index == "faiss":
        raise ValueError("index=faiss needs a dot or distmult decoder; this model scores pairs "
                         "with its own decoder or a heuristic, so use index=exact")
    score = pair_scorer(module, task_name, z, graph)
    width = z[d].size(1) if z is not None else 1
    rows = max(1, min(chunk, PAIRWISE_BUDGET // max(1, n_cand * width)))
    cands = torch.arange(n_cand)
    return topk_retrieval(queries, cands, k, exclude, chunk_size=rows,
                          score_fn=lambda qc, c: score(qc[:, None], c[None, :]))

