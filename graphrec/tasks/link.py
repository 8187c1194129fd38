"""Link prediction tasks: a decoder over two node types' embeddings, a loss over fresh negatives."""

from __future__ import annotations

import torch
from torch import nn

from graphrec.data.negatives import two_hop_negatives
from graphrec.data.schema import as_edge_type, reverse_edge_type
from graphrec.models.decoders import build_decoder, pairwise_scores, reads_graph
from graphrec.models.heuristics import Adjacency
from graphrec.tasks.link_eval import DEFAULT_DEGREE_BUCKETS, check_buckets, evaluate_link
from graphrec.tasks.losses import check_loss, link_loss
from graphrec.utils.errors import ConfigError

NEGATIVES = ("uniform", "two_hop")


class LinkTask(nn.Module):
    """Scores ``edge_type`` pairs; trains on corrupted targets drawn fresh each step.

    Args:
        name: the task's name in metric keys (``val/<name>/mrr``).
        edge_type: ``(source type, relation, target type)``.
        dim: embedding width from the encoder.
        decoder: ``dot``, ``hadamard_mlp`` or ``distmult``, or a ``{_target_: ...}`` spec
            (e.g. the NCN decoder, which reads the graph).
        decoder_hidden: hidden width of the MLP decoder.
        neg_ratio: training negatives per positive.
        loss_weight: weight of this task in the summed loss.
        symmetric: pairs are unordered (friendship): train on both orientations.
        eval_chunk: positives scored at once against their negatives (bounds memory).
        self_loops: every node paired with itself is a training positive too: GAE's
            reconstruction target is ``A + I`` (Kipf & Welling 2016), which keeps each
            embedding's own score high; on Cora it lifts test AUC by about 1.5 points.
            Only for relations within one node type.
        degree_buckets: metrics also per segment of the source's training degree: lower
            bounds of the segments after the first (``[3, 11]``: 0-2, 3-10, 11+); null: none.
        full_ranking: also rank every candidate of the target type per evaluated source,
            known positives excluded (Recall@K, NDCG@K, ``full_mrr``; see ``link_eval``).
        ks: cut-offs of the full ranking; ranking_chunk: sources scored per block.
        loss: ``bce``, ``bpr``, ``infonce`` or ``margin`` (:mod:`graphrec.tasks.losses`).
        temperature: of ``infonce``; margin: of ``margin``.
        negatives: training negatives: ``uniform`` corrupted targets, or ``two_hop``
            non-neighbours (drawn in proportion to resource allocation, true edges excluded;
            :func:`graphrec.data.negatives.two_hop_negatives`) mixed with uniform ones.
        hard_ratio: fraction of ``two_hop`` negatives that are hard (the rest uniform).
    """

    kind = "link"
    primary_metric = "mrr"

    def __init__(self, name: str, edge_type, dim: int, decoder: str = "dot",
                 decoder_hidden: int = 64, neg_ratio: int = 1, loss_weight: float = 1.0,
                 symmetric: bool = False, eval_chunk: int = 4096, self_loops: bool = False,
                 degree_buckets=DEFAULT_DEGREE_BUCKETS, full_ranking: bool = False,
                 ks=(10, 20, 50), ranking_chunk: int = 256, loss: str = "bce",
                 temperature: float = 0.1, margin: float = 1.0, negatives: str = "uniform",
                 hard_ratio: float = 0.5):
        super().__init__()
        self.name = name
        self.edge_type = as_edge_type(edge_type)
        if self_loops and self.edge_type[0] != self.edge_type[2]:
            raise ValueError(f"self_loops needs a relation within one node type, got "
                             f"{self.edge_type}; set it only for such tasks")
        self.self_loops = self_loops
        self.decoder = build_decoder(decoder, dim, decoder_hidden, edge_type=self.edge_type)
        self.loss_name = check_loss(loss)
        self.temperature, self.margin = temperature, margin
        if negatives not in NEGATIVES:
            raise ConfigError(f"negatives={negatives!r}; choose one of {NEGATIVES}")
        if negatives == "two_hop" and self.edge_type[0] != self.edge_type[2]:
            raise ConfigError(f"negatives=two_hop walks one node type; {self.edge_type} "
                              "joins two, so use negatives=uniform for this task")
        self.negatives, self.hard_ratio = negatives, hard_ratio
        self.neg_ratio, self.loss_weight = neg_ratio, loss_weight
        self.symmetric, self.eval_chunk = symmetric, eval_chunk
        self.full_ranking = full_ranking
        self.eval_options = {"symmetric": symmetric, "chunk": eval_chunk,
                             "degree_buckets": check_buckets(degree_buckets), "ks": list(ks),
                             "ranking_chunk": ranking_chunk}

    def score(self, z: dict, src: torch.Tensor, dst: torch.Tensor, graph=None) -> torch.Tensor:
        """Scores of pairs: ``src [...]`` source ids, ``dst [...]`` target ids (broadcast).

        ``graph`` is the split's message-passing graph; decoders that read it (NCN) need it,
        the others ignore it.
        """
        if reads_graph(self.decoder):
            return self.decoder(z, src, dst, graph)
        s, _, d = self.edge_type
        return self.decoder(z[s][src], z[d][dst])

    def _known_edges(self, graph, pos: torch.Tensor, num_nodes: int) -> Adjacency:
        """Every train edge: the step graph's plus the supervision pairs hidden from it."""
        parts = [pos]
        for et in {self.edge_type, reverse_edge_type(self.edge_type)}:
            if et in graph.edge_types:
                parts.append(graph[et].edge_index)
        return Adjacency.from_edge_index(torch.cat(parts, 1), num_nodes, undirected=True)

    def sample_negatives(self, src: torch.Tensor, pos: torch.Tensor, num_dst: int,
                         graph=None) -> torch.Tensor:
        """``[P, neg_ratio]`` training targets for sources ``src [P]`` (fresh each call)."""
        shape = (src.numel(), self.neg_ratio)
        if self.negatives == "uniform" or graph is None:
            return torch.randint(0, num_dst, shape, device=src.device)
        walk = Adjacency.from_edge_index(graph[self.edge_type].edge_index, num_dst,
                                         undirected=self.symmetric)
        return two_hop_negatives(src, self.neg_ratio, walk, self._known_edges(graph, pos,
                                                                              num_dst),
                                 num_dst, self.hard_ratio)

    def loss(self, z: dict, target: dict, graph=None) -> torch.Tensor:
        pos = target["pos"]
        if self.symmetric:
            pos = torch.cat([pos, pos.flip(0)], 1)
        num_dst = z[self.edge_type[2]].size(0)
        if self.self_loops:
            pos = torch.cat([pos, torch.arange(num_dst, device=pos.device).expand(2, -1)], 1)
        neg_dst = self.sample_negatives(pos[0], pos, num_dst, graph)
        pos_out = self.score(z, pos[0], pos[1], graph)
        neg_out = self.score(z, pos[0][:, None], neg_dst, graph)
        return link_loss(self.loss_name, pos_out, neg_out, self.temperature, self.margin)

    @torch.no_grad()
    def evaluate(self, z: dict, target: dict, graph=None) -> dict[str, float]:
        """Sampled ranking, AUC/AP, per-degree segments and optional full ranking."""
        s, _, d = self.edge_type
        full = None
        if self.full_ranking and reads_graph(self.decoder):
            ids = torch.arange(z[d].size(0), device=z[d].device)
            full = (torch.arange(z[s].size(0), device=z[s].device), ids,
                    lambda q, c: self.score(z, q[:, None], c[None, :], graph))
        elif self.full_ranking:
            full = (z[s], z[d], lambda q, c: pairwise_scores(self.decoder, q, c))
        return evaluate_link(lambda a, b: self.score(z, a, b, graph), target, graph,
                             self.edge_type,
                             full=full, **self.eval_options)
