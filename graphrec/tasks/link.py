"""Link prediction tasks: a decoder over two node types' embeddings, BCE with fresh negatives."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from graphrec.data.schema import as_edge_type
from graphrec.models.decoders import build_decoder, pairwise_scores
from graphrec.tasks.link_eval import DEFAULT_DEGREE_BUCKETS, check_buckets, evaluate_link


class LinkTask(nn.Module):
    """Scores ``edge_type`` pairs; trains on uniform corrupted targets drawn fresh each step.

    Args:
        name: the task's name in metric keys (``val/<name>/mrr``).
        edge_type: ``(source type, relation, target type)``.
        dim: embedding width from the encoder.
        decoder: ``dot``, ``hadamard_mlp`` or ``distmult``.
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
    """

    kind = "link"
    primary_metric = "mrr"

    def __init__(self, name: str, edge_type, dim: int, decoder: str = "dot",
                 decoder_hidden: int = 64, neg_ratio: int = 1, loss_weight: float = 1.0,
                 symmetric: bool = False, eval_chunk: int = 4096, self_loops: bool = False,
                 degree_buckets=DEFAULT_DEGREE_BUCKETS, full_ranking: bool = False,
                 ks=(10, 20, 50), ranking_chunk: int = 256):
        super().__init__()
        self.name = name
        self.edge_type = as_edge_type(edge_type)
        if self_loops and self.edge_type[0] != self.edge_type[2]:
            raise ValueError(f"self_loops needs a relation within one node type, got "
                             f"{self.edge_type}; set it only for such tasks")
        self.self_loops = self_loops
        self.decoder = build_decoder(decoder, dim, decoder_hidden)
        self.neg_ratio, self.loss_weight = neg_ratio, loss_weight
        self.symmetric, self.eval_chunk = symmetric, eval_chunk
        self.full_ranking = full_ranking
        self.eval_options = {"symmetric": symmetric, "chunk": eval_chunk,
                             "degree_buckets": check_buckets(degree_buckets), "ks": list(ks),
                             "ranking_chunk": ranking_chunk}
        # The last full ranking's item popularity (recommended vs held-out), for the plot.
        self.popularity_samples: dict = {}

    def score(self, z: dict, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """Scores of pairs: ``src [...]`` source ids, ``dst [...]`` target ids (broadcast)."""
        s, _, d = self.edge_type
        return self.decoder(z[s][src], z[d][dst])

    def loss(self, z: dict, target: dict, graph=None) -> torch.Tensor:
        pos = target["pos"]
        if self.symmetric:
            pos = torch.cat([pos, pos.flip(0)], 1)
        num_dst = z[self.edge_type[2]].size(0)
        if self.self_loops:
            pos = torch.cat([pos, torch.arange(num_dst, device=pos.device).expand(2, -1)], 1)
        neg_src = pos[0].repeat(self.neg_ratio)
        neg_dst = torch.randint(0, num_dst, neg_src.shape, device=pos.device)
        pos_out = self.score(z, pos[0], pos[1])
        neg_out = self.score(z, neg_src, neg_dst)
        return F.binary_cross_entropy_with_logits(
            torch.cat([pos_out, neg_out]),
            torch.cat([torch.ones_like(pos_out), torch.zeros_like(neg_out)]))

    @torch.no_grad()
    def evaluate(self, z: dict, target: dict, graph=None) -> dict[str, float]:
        """Sampled ranking, AUC/AP, per-degree segments and optional full ranking."""
        s, _, d = self.edge_type
        full = None
        if self.full_ranking:
            full = (z[s], z[d], lambda q, c: pairwise_scores(self.decoder, q, c))
        return evaluate_link(lambda a, b: self.score(z, a, b), target, graph, self.edge_type,
                             full=full, sink=self.popularity_samples, **self.eval_options)
