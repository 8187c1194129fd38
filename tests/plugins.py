"""A task kind and an encoder family written outside graphrec, as a user would add them.

Each is one class here plus one YAML (written by tests/test_plugins.py into a config folder on
Hydra's search path); docs/design.md shows the same two examples.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import Logger
from torch import nn

from graphrec.data.splits import split_nodes
from graphrec.models.encoders import Encoder
from graphrec.models.encoders.base import node_inputs
from graphrec.tasks.base import Task


class DegreeTask(Task):
    """Node regression: predict ``log(1 + degree)`` of ``node_type`` nodes in ``relation``.

    A toy kind with its own target, split, loss and metric (R², higher is better).
    """

    kind = "degree"
    primary_metric = "r2"

    def __init__(self, name: str, dim: int, node_type: str, relation, loss_weight: float = 1.0):
        super().__init__()
        self.name, self.node_type, self.relation = name, node_type, tuple(relation)
        self.loss_weight = loss_weight
        self.head = nn.Linear(dim, 1)

    @classmethod
    def target_of(cls, spec: Mapping):
        return ("degree", spec["node_type"])

    @classmethod
    def check_servable(cls, name, spec, graph):
        if tuple(spec["relation"]) not in graph.edge_types:
            return f"counts {tuple(spec['relation'])} edges, which the data does not have"
        return None

    @classmethod
    def make_split(cls, graph, spec, *, source, val_ratio, test_ratio, temporal, num_negatives,
                   generator):
        store = graph[spec["node_type"]]
        y = torch.log1p(torch.bincount(graph[tuple(spec["relation"])].edge_index[0],
                                       minlength=store.num_nodes).float())
        store.y_degree = (y - y.mean()) / y.std()  # standardized: a fresh head starts near it
        labelled = graph.__class__()
        labelled[spec["node_type"]].y = torch.zeros(store.num_nodes, dtype=torch.long)
        return split_nodes(labelled, spec["node_type"], val_ratio, test_ratio, False, generator)

    @classmethod
    def split_targets(cls, split, which):
        return {"index": getattr(split, which)}

    def _pred(self, z, target):
        return self.head(z[self.node_type][target["index"]]).squeeze(-1)

    def loss(self, z, target, graph):
        return F.mse_loss(self._pred(z, target), graph[self.node_type].y_degree[target["index"]])

    @torch.no_grad()
    def evaluate(self, z, target, graph):
        y = graph[self.node_type].y_degree[target["index"]]
        mse = F.mse_loss(self._pred(z, target), y).item()
        return {"mse": mse, "r2": 1.0 - mse / y.var(unbiased=False).item()}


class MeanEncoder(Encoder):
    """One round of mean aggregation over every relation, no parameters beyond the inputs:
    ``z_v = x_v + mean of the neighbours' x``."""

    def __init__(self, metadata, node_specs, out_channels: int = 16, id_embedding=True,
                 **unused):
        super().__init__(metadata)
        self.out_channels = out_channels
        self.inputs = node_inputs(self.node_types, node_specs, out_channels, id_embedding)

    def forward(self, graph):
        x = {nt: self.inputs[nt](graph[nt], graph[nt].get("n_id")) for nt in self.inputs}
        out = dict(x)
        for (s, _, d), ei in graph.edge_index_dict.items():
            total = torch.zeros_like(x[d]).index_add_(0, ei[1], x[s][ei[0]])
            count = torch.bincount(ei[1], minlength=x[d].size(0)).clamp(min=1).unsqueeze(1)
            out[d] = out[d] + total / count
        return out


class EpochLog(Callback):
    """A Lightning callback from outside graphrec: appends each finished train epoch to a file."""

    def __init__(self, path: str):
        self.path = path

    def on_train_epoch_end(self, trainer, pl_module):
        with open(self.path, "a") as f:
            f.write(f"{trainer.current_epoch}\n")


class JsonLinesLogger(Logger):
    """A Lightning logger from outside graphrec: every logged metric as one JSON line."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    @property
    def name(self) -> str:
        return "jsonl"

    @property
    def version(self) -> str:
        return "0"

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        pass

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps({"step": step, **{k: float(v) for k, v in metrics.items()}}) + "\n")
