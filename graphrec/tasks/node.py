"""Node classification tasks (sentiment of posts): an MLP head and cross-entropy."""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch_geometric.loader import NeighborLoader

from graphrec.data.splits import fixed_node_split, split_nodes
from graphrec.metrics.classification import node_classification_metrics
from graphrec.models.heads import MLPHead
from graphrec.tasks.base import Task


class NodeClassificationTask(Task):
    """Classifies ``node_type`` nodes from their embeddings.

    Args:
        name: the task's name in metric keys (``val/<name>/acc``).
        node_type: the labelled node type; labels are ``graph[node_type].y``.
        dim: embedding width from the encoder.
        num_classes: number of labels.
        hidden, dropout: the MLP head.
        loss_weight: weight of this task in the summed loss.
    """

    kind = "node"
    primary_metric = "macro_f1"

    def __init__(self, name: str, node_type: str, dim: int, num_classes: int, hidden: int = 64,
                 dropout: float = 0.1, loss_weight: float = 1.0):
        super().__init__()
        self.name, self.node_type = name, node_type
        self.num_classes, self.loss_weight = num_classes, loss_weight
        self.head = MLPHead(dim, num_classes, hidden, dropout)

    # -- data side -------------------------------------------------------------------------
    @classmethod
    def target_of(cls, spec: Mapping):
        return spec["node_type"]

    @classmethod
    def check_servable(cls, name: str, spec: Mapping, graph) -> str | None:
        nt = spec["node_type"]
        if nt not in graph.node_types or "y" not in graph[nt]:
            return f"classifies '{nt}' nodes, but the data has no labels {nt}.y"
        return None

    @classmethod
    def make_split(cls, graph, spec: Mapping, *, source, val_ratio: float, test_ratio: float,
                   temporal: bool, num_negatives: int, generator: torch.Generator):
        nt = spec["node_type"]
        if "train_mask" in graph[nt]:
            # The source's own (official) split, e.g. a corpus's train/dev/test files.
            return fixed_node_split(graph, nt)
        return split_nodes(graph, nt, val_ratio, test_ratio, temporal, generator)

    @classmethod
    def split_targets(cls, split, which: str) -> dict:
        return {"index": getattr(split, which)}

    @classmethod
    def train_loader(cls, split, graph, batches, loader_kwargs: dict):
        return NeighborLoader(graph, batches.num_neighbors, neighbor_sampler=batches.sampler(graph),
                              input_nodes=(split.node_type, split.train), **loader_kwargs)

    @classmethod
    def share(cls, targets: dict, graph, split, rank: int, world_size: int):
        index = targets["index"]
        return {**targets, "index": index[torch.arange(rank, index.numel(), world_size)]}, graph

    # -- model side ------------------------------------------------------------------------
    @classmethod
    def from_config(cls, name: str, spec: Mapping, dim: int, decoder: Mapping, head: Mapping,
                    node_specs: Mapping) -> NodeClassificationTask:
        spec = dict(spec)
        nt = spec.pop("node_type")
        num_classes = spec.pop("num_classes", None) or node_specs[nt]["num_classes"]
        return cls(name, nt, dim, num_classes, hidden=head.get("hidden", 64),
                   dropout=head.get("dropout", 0.1), **spec)

    def logits(self, z: dict, index: torch.Tensor) -> torch.Tensor:
        return self.head(z[self.node_type][index])

    def loss(self, z: dict, target: dict, graph) -> torch.Tensor:
        idx = target["index"]
        return F.cross_entropy(self.logits(z, idx), graph[self.node_type].y[idx])

    def subgraph_loss(self, z: dict, batch) -> torch.Tensor:
        # The loader's seed nodes come first in their node type.
        seeds = torch.arange(batch[self.node_type].batch_size, device=z[self.node_type].device)
        return self.loss(z, {"index": seeds}, batch)

    @torch.no_grad()
    def evaluate(self, z: dict, target: dict, graph) -> dict[str, float]:
        idx = target["index"]
        return node_classification_metrics(self.logits(z, idx), graph[self.node_type].y[idx])
