"""Link prediction tasks: a decoder over two node types' embeddings, a loss over fresh negatives."""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch_geometric.loader import LinkNeighborLoader
from torch_geometric.sampler import NegativeSampling

from graphrec.data.inductive import SPLIT_OPTIONS, InductiveLinkSplit, hold_out_users
from graphrec.data.inductive import SPLITS as INDUCTIVE_SPLITS
from graphrec.data.leakage import hide_pairs, target_edge_types
from graphrec.data.negatives import two_hop_negatives, uniform_negatives
from graphrec.data.schema import SYMMETRIC_EDGE_TYPES, as_edge_type, reverse_edge_type
from graphrec.data.splits import split_links
from graphrec.models.decoders import build_decoder, pairwise_scores, reads_graph
from graphrec.models.heuristics import Adjacency
from graphrec.tasks.base import Task
from graphrec.tasks.link_eval import DEFAULT_DEGREE_BUCKETS, check_buckets, evaluate_link
from graphrec.tasks.losses import check_loss, link_loss
from graphrec.utils.errors import ConfigError

NEGATIVES = ("uniform", "non_edges", "two_hop")


class LinkTask(Task):
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
        negatives: training negatives: ``uniform`` corrupted targets (a train edge may be
            drawn as a negative), ``non_edges`` (uniform, redrawn where they hit a train edge,
            as the evaluation negatives avoid every known edge; held-out edges are unknown to
            training and may still be drawn), or ``two_hop`` non-neighbours (drawn in
            proportion to resource allocation, train edges excluded;
            :func:`graphrec.data.negatives.two_hop_negatives`) mixed with uniform non-edges.
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
        # The last full ranking's item popularity (recommended vs held-out), for the plot.
        self.popularity_samples: dict = {}

    # -- data side -------------------------------------------------------------------------
    @classmethod
    def target_of(cls, spec: Mapping):
        return as_edge_type(spec["edge_type"])

    @classmethod
    def is_symmetric(cls, spec: Mapping) -> bool:
        """Unordered pairs: the relation is symmetric in the schema, or the task says so."""
        return cls.target_of(spec) in SYMMETRIC_EDGE_TYPES or bool(spec.get("symmetric", False))

    @classmethod
    def check_servable(cls, name: str, spec: Mapping, graph) -> str | None:
        et = cls.target_of(spec)
        if et not in graph.edge_types or graph[et].num_edges == 0:
            return f"predicts {et} edges, but the data has none (it has {graph.edge_types})"
        return None

    @classmethod
    def make_split(cls, graph, spec: Mapping, *, source, val_ratio: float, test_ratio: float,
                   temporal: bool, num_negatives: int, generator: torch.Generator):
        et, symmetric = cls.target_of(spec), cls.is_symmetric(spec)
        official = getattr(source, "split_links", None)
        if official is not None:  # the data comes with its own split (OGB)
            return official(graph, et, symmetric=symmetric, num_negatives=num_negatives,
                            generator=generator)
        split = split_links(graph, et, val_ratio, test_ratio, temporal, symmetric=symmetric,
                            num_negatives=num_negatives, generator=generator)
        how = spec.get("split") or "transductive"
        if how not in INDUCTIVE_SPLITS:
            raise ConfigError(f"task split={how} (task.<name>.split) is not a split; choose one "
                              f"of {', '.join(INDUCTIVE_SPLITS)}")
        if how == "inductive":  # new users: held out with all their edges (data/inductive.py)
            split = hold_out_users(graph, split, spec.get("new_user_ratio", 0.1),
                                   spec.get("observed_ratio", 0.5), symmetric, num_negatives,
                                   generator)
        return split

    @classmethod
    def split_targets(cls, split, which: str) -> dict:
        targets = {"pos": split.pairs(which)}
        if which != "train":
            targets["neg"] = split.negatives(which)
            if hasattr(split, "official_targets"):  # e.g. OGB's shared negatives
                targets.update(split.official_targets(which))
            if which == "test" and isinstance(split, InductiveLinkSplit):
                targets["new_users"] = {"pos": split.new_test, "neg": split.new_test_neg}
        return targets

    @classmethod
    def held_out(cls, split) -> list:
        return [split]

    @classmethod
    def train_loader(cls, split, graph, batches, loader_kwargs: dict):
        # Imported here: the mini-batch module builds loaders for every task kind.
        from graphrec.data.minibatch import HideSupervision

        return LinkNeighborLoader(
            graph, batches.num_neighbors, neighbor_sampler=batches.sampler(graph),
            edge_label_index=(split.edge_type, split.train),
            neg_sampling=NegativeSampling("binary", batches.neg_sampling_ratio),
            transform=HideSupervision(split.edge_type), **loader_kwargs)

    @classmethod
    def share(cls, targets: dict, graph, split, rank: int, world_size: int):
        """Every rank passes messages over the whole train graph and supervises its stride of
        the pairs. Target edges keep their ``pair_id`` only if their pair is in this rank's
        share (renumbered to index it), so per-step hiding draws from and hides this rank's
        pairs; the other ranks' pairs always carry messages here."""
        pos = targets["pos"]
        share = torch.arange(rank, pos.size(1), world_size)
        renumber = torch.full((pos.size(1) + 1,), -1, dtype=torch.long)
        renumber[share] = torch.arange(share.numel())
        for et in target_edge_types(graph, split.edge_type):
            if "pair_id" in graph[et]:
                # Index -1 (held-out edge) reads the last slot, which stays -1.
                graph[et]["pair_id"] = renumber[graph[et].pair_id]
        return {**targets, "pos": pos[:, share]}, graph

    # -- model side ------------------------------------------------------------------------
    @classmethod
    def from_config(cls, name: str, spec: Mapping, dim: int, decoder: Mapping, head: Mapping,
                    node_specs: Mapping) -> LinkTask:
        # How the data is split is the datamodule's business, not the task module's.
        spec = {k: v for k, v in spec.items() if k not in SPLIT_OPTIONS}
        symmetric = cls.is_symmetric(spec)
        spec.pop("symmetric", None)
        # A `_target_` decoder spec is built by the task; `name:` specs are older checkpoints'.
        dec = dict(decoder) if "_target_" in decoder else decoder.get("name", "dot")
        return cls(name, spec.pop("edge_type"), dim, decoder=dec,
                   decoder_hidden=decoder.get("hidden", 64), symmetric=symmetric, **spec)

    def hide_supervision(self, graph, target: dict, ratio: float):
        """Draws this step's supervision pairs and removes them from message passing.

        Without it, a positive pair's own edge carries each end's embedding to the other, so
        the model learns to detect edges it is shown instead of predicting unseen ones.
        """
        pos = target["pos"]
        sup = torch.rand(pos.size(1), device=pos.device) < ratio
        hide_pairs(graph, self.edge_type, torch.nonzero(sup).squeeze(1))
        return graph, {**target, "pos": pos[:, sup]}

    def subgraph_loss(self, z: dict, batch) -> torch.Tensor:
        """BCE on the loader's ``edge_label_index`` (the seed positives and the loader's
        uniform negatives, labels in ``edge_label``) instead of negatives drawn among the
        subgraph's nodes, which would be neighbours of the seeds rather than uniform targets."""
        store = batch[self.edge_type]
        index = store.edge_label_index
        out = self.score(z, index[0], index[1], batch)
        return F.binary_cross_entropy_with_logits(out, store.edge_label.to(out.dtype))

    def score(self, z: dict, src: torch.Tensor, dst: torch.Tensor, graph=None) -> torch.Tensor:
        """Scores of pairs: ``src [...]`` source ids, ``dst [...]`` target ids (broadcast).

        ``graph`` is the split's message-passing graph; decoders that read it (NCN) need it,
        the others ignore it.
        """
        if reads_graph(self.decoder):
            return self.decoder(z, src, dst, graph)
        s, _, d = self.edge_type
        return self.decoder(z[s][src], z[d][dst])

    def _known_edges(self, graph, pos: torch.Tensor) -> Adjacency:
        """Every train edge ``(source, target)``: the step graph's plus the supervision pairs
        hidden from it (``pos``). Keys span both node types' ids, so a relation across two
        types reads as it is; within one type both directions count."""
        s, _, d = self.edge_type
        parts = [pos]
        if self.edge_type in graph.edge_types:
            parts.append(graph[self.edge_type].edge_index)
        rev = reverse_edge_type(self.edge_type)
        if rev != self.edge_type and rev in graph.edge_types:
            parts.append(graph[rev].edge_index.flip(0))
        n = max(graph[s].num_nodes, graph[d].num_nodes)
        return Adjacency.from_edge_index(torch.cat(parts, 1), n, undirected=s == d)

    def sample_negatives(self, src: torch.Tensor, pos: torch.Tensor, num_dst: int,
                         graph=None) -> torch.Tensor:
        """``[P, neg_ratio]`` training targets for sources ``src [P]`` (fresh each call)."""
        shape = (src.numel(), self.neg_ratio)
        if self.negatives == "uniform" or graph is None:
            return torch.randint(0, num_dst, shape, device=src.device)
        known = self._known_edges(graph, pos)
        if self.negatives == "non_edges":
            return uniform_negatives(src, self.neg_ratio, num_dst, known,
                                     same_type=self.edge_type[0] == self.edge_type[2])
        walk = Adjacency.from_edge_index(graph[self.edge_type].edge_index, num_dst,
                                         undirected=self.symmetric)
        return two_hop_negatives(src, self.neg_ratio, walk, known, num_dst, self.hard_ratio)

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
                             self.edge_type, full=full, sink=self.popularity_samples,
                             **self.eval_options)
