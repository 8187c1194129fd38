"""The LightningModule: one encoder, one task module per task, summed weighted losses."""

from __future__ import annotations

import copy
from collections.abc import Mapping

import lightning as L
import torch
from torch import nn

from graphrec.data.inductive import SPLIT_OPTIONS
from graphrec.data.schema import SYMMETRIC_EDGE_TYPES, as_edge_type, reverse_edge_type
from graphrec.models.encoders import HeteroEncoder
from graphrec.new_nodes import unseen_id_rows
from graphrec.optim import build_optimizer, has_sparse_tables, use_sparse_gradients
from graphrec.tasks.link import LinkTask
from graphrec.tasks.node import NodeClassificationTask
from graphrec.tasks.subgraph import subgraph_loss
from graphrec.utils.errors import ConfigError

TASK_KINDS = ("link", "node")
LOSS_WEIGHTINGS = ("static", "uncertainty")


def build_task(name: str, spec: Mapping, dim: int, decoder: Mapping, head: Mapping,
               node_specs: Mapping) -> nn.Module:
    """A task module from its plain config (``kind`` plus the task's own options)."""
    # How the data is split is the datamodule's business, not the task module's.
    spec = {k: v for k, v in spec.items() if k not in SPLIT_OPTIONS}
    kind = spec.pop("kind", None)
    weight = spec.pop("loss_weight", 1.0)
    if kind == "link":
        et = as_edge_type(spec.pop("edge_type"))
        symmetric = spec.pop("symmetric", False) or et in SYMMETRIC_EDGE_TYPES
        return LinkTask(name, et, dim, decoder=decoder.get("name", "dot"),
                        decoder_hidden=decoder.get("hidden", 64), loss_weight=weight,
                        symmetric=symmetric, **spec)
    if kind == "node":
        nt = spec.pop("node_type")
        num_classes = spec.pop("num_classes", None) or node_specs[nt]["num_classes"]
        return NodeClassificationTask(name, nt, dim, num_classes, hidden=head.get("hidden", 64),
                                      dropout=head.get("dropout", 0.1), loss_weight=weight, **spec)
    raise ValueError(f"task '{name}' has kind={kind!r}; valid kinds: {TASK_KINDS}")


class EvaluatedModule(L.LightningModule):
    """What every graphrec model shares: val/test steps through ``_evaluate``, the split score,
    and self-describing checkpoints."""

    def _evaluate(self, batch, split: str) -> dict[str, float]:
        raise NotImplementedError

    def log_split(self, metrics: dict, primary: list, split: str) -> dict[str, float]:
        # One number to select checkpoints on whatever the task mix: the mean primary metric.
        metrics[f"{split}/score"] = sum(primary) / len(primary)
        self.log_dict(metrics, batch_size=1)
        return metrics

    def validation_step(self, batch, batch_idx):
        self._evaluate(batch, "val")

    def test_step(self, batch, batch_idx):
        self._evaluate(batch, "test")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # The resolved run config and provenance make the checkpoint self-describing:
        # evaluation rebuilds the exact data and split from it alone.
        if getattr(self, "run_info", None):
            checkpoint["graphrec"] = self.run_info


class GraphRecModule(EvaluatedModule):
    """Multi-task GNN: ``encoder(graph) -> z_dict``, then each task's decoder or head.

    All arguments are plain values, saved in the checkpoint, so ``load_from_checkpoint``
    rebuilds the model without any config.

    Args:
        metadata: ``(node_types, edge_types)`` of the graph.
        node_specs: per node type input sizes (see ``GraphDataModule.node_specs``).
        tasks: task name -> task config (``kind``, target, ``loss_weight``, options).
        encoder: keyword arguments of :class:`HeteroEncoder`.
        decoder: ``{"name": "dot" | "hadamard_mlp" | "distmult", "hidden": int}``.
        head: ``{"hidden": int, "dropout": float}`` for node tasks.
        lr, weight_decay: AdamW.
        sparse_embeddings: ID embedding tables get sparse
            gradients and a lazy row-wise Adam update (:class:`graphrec.optim.DenseSparseAdamW`),
            so a mini-batch step costs what it touches, not the table size. Single process or
            gloo DDP only: NCCL cannot all-reduce sparse gradients.
        supervision_ratio: fraction of train target pairs that supervise each step and are
            hidden from that step's message passing (PyG's ``disjoint_train_ratio``, redrawn
            every step); ``None``: every train pair supervises and stays visible.
        loss_weighting: ``static`` sums ``loss_weight * loss`` over tasks; ``uncertainty``
            learns one log-variance ``s`` per task and sums ``exp(-s) * loss_weight * loss + s``
            (Kendall, Gal & Cipolla, CVPR 2018), so no weight needs tuning by hand.
    """

    def __init__(self, metadata, node_specs: Mapping, tasks: Mapping, encoder: Mapping,
                 decoder: Mapping | None = None, head: Mapping | None = None, lr: float = 0.01,
                 weight_decay: float = 0.0, supervision_ratio: float | None = None,
                 loss_weighting: str = "static", sparse_embeddings: bool = False):
        super().__init__()
        self.save_hyperparameters()
        metadata = (list(metadata[0]), [tuple(et) for et in metadata[1]])
        self.encoder = HeteroEncoder(metadata, node_specs, **encoder)
        self.sparse_embeddings = sparse_embeddings
        if sparse_embeddings:
            use_sparse_gradients(self.encoder)
        dim = encoder.get("out_channels", 64)
        self.tasks = nn.ModuleDict({
            name: build_task(name, spec, dim, decoder or {}, head or {}, node_specs)
            for name, spec in tasks.items()})
        self.lr, self.weight_decay = lr, weight_decay
        self.supervision_ratio = supervision_ratio
        if loss_weighting not in LOSS_WEIGHTINGS:
            raise ValueError(f"loss_weighting={loss_weighting!r}; choose one of {LOSS_WEIGHTINGS}")
        self.loss_weighting = loss_weighting
        # log sigma^2 per task, 0 = weight 1 at the start; only trained with "uncertainty".
        self.log_vars = nn.ParameterDict({name: nn.Parameter(torch.zeros(()))
                                          for name in self.tasks}) \
            if loss_weighting == "uncertainty" else None

    def forward(self, graph) -> dict[str, torch.Tensor]:
        return self.encoder(graph)

    def _hide_supervision(self, graph, targets):
        """Draws this step's supervision pairs and removes them from message passing.

        Without it, a positive pair's own edge carries each end's embedding to the other, so
        the model learns to detect edges it is shown instead of predicting unseen ones.
        """
        graph, targets = copy.copy(graph), dict(targets)
        for name, task in self.tasks.items():
            if task.kind != "link":
                continue
            pos = targets[name]["pos"]
            sup = torch.rand(pos.size(1), device=pos.device) < self.supervision_ratio
            targets[name] = {**targets[name], "pos": pos[:, sup]}
            for et in {task.edge_type, reverse_edge_type(task.edge_type)}:
                if et in graph.edge_types and "pair_id" in graph[et]:
                    pid = graph[et].pair_id
                    keep = (pid < 0) | ~sup[pid.clamp(min=0)]
                    graph[et].edge_index = graph[et].edge_index[:, keep]
        return graph, targets

    def training_step(self, batch, batch_idx):
        if "graph" not in batch:  # data.loader=neighbor: one sampled subgraph per task
            return self._subgraph_step(batch)
        graph, targets = batch["graph"], batch["targets"]
        # An encoder that passes no messages has nothing to hide: every pair supervises.
        if self.supervision_ratio and self.encoder.conv_kind != "mlp":
            graph, targets = self._hide_supervision(graph, targets)
        z = self(graph)
        losses = {}
        for name, task in self.tasks.items():
            losses[name] = task.loss(z, targets[name], graph)
            self.log(f"train/{name}/loss", losses[name], batch_size=1)
        total = self.combine_losses(losses)
        self.log("train/loss", total, batch_size=1, prog_bar=True)
        return total

    def combine_losses(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The training objective from the per-task losses (see ``loss_weighting``)."""
        total = 0.0
        for name, loss in losses.items():
            weighted = self.tasks[name].loss_weight * loss
            if self.log_vars is not None:
                s = self.log_vars[name]
                weighted = torch.exp(-s) * weighted + s
                self.log(f"train/{name}/log_var", s.detach(), batch_size=1)
            total = total + weighted
        return total

    def _subgraph_step(self, batch):
        losses = {}
        for name, task in self.tasks.items():
            losses[name] = subgraph_loss(task, self.encoder(batch[name]), batch[name])
            self.log(f"train/{name}/loss", losses[name], batch_size=1)
        total = self.combine_losses(losses)
        self.log("train/loss", total, batch_size=1, prog_bar=True)
        return total

    def _evaluate(self, batch, split: str) -> dict[str, float]:
        graph, targets = batch["graph"], batch["targets"]
        # Users held out of training (inductive split) get the ID fallback of new users.
        with unseen_id_rows(self, batch.get("new_nodes")):
            # Mini-batch mode embeds all nodes layer by layer with bounded memory.
            z = batch["embed"](self.encoder) if "embed" in batch else self(graph)
        metrics, primary = {}, []
        for name, task in self.tasks.items():
            for key, value in task.evaluate(z, targets[name], graph).items():
                metrics[f"{split}/{name}/{key}"] = value
            primary.append(metrics[f"{split}/{name}/{task.primary_metric}"])
        return self.log_split(metrics, primary, split)

    def setup(self, stage: str) -> None:
        if has_sparse_tables(self) and torch.distributed.is_available() \
                and torch.distributed.is_initialized() \
                and torch.distributed.get_backend() == "nccl":
            # Fail before the first backward, which would stop inside DDP's reducer.
            raise ConfigError("sparse embedding gradients (model.sparse_embeddings=true or a "
                              "hashed_bow featurizer with sparse_grad: true) need gloo: NCCL "
                              "cannot all-reduce them. Turn them off for NCCL DDP, or use "
                              "trainer.strategy.process_group_backend=gloo")

    def configure_optimizers(self):
        # AdamW; tables with sparse gradients (sparse_embeddings, hashed_bow sparse_grad) get
        # lazy Adam on the rows each step touched.
        return build_optimizer(self, self.lr, self.weight_decay)
