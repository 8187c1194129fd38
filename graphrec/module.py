"""The LightningModule: one encoder, one task module per task, summed weighted losses."""

from __future__ import annotations

import copy
from collections.abc import Mapping

import lightning as L
import torch
from torch import nn

from graphrec.checks import check_module_args
from graphrec.models.decoders import reads_graph
from graphrec.models.encoders import build_encoder
from graphrec.new_nodes import unseen_id_rows
from graphrec.optim import build_optimizer, has_sparse_tables, use_sparse_gradients
from graphrec.tasks.base import build_task
from graphrec.utils.errors import ConfigError, NonFiniteError, located

LOSS_WEIGHTINGS = ("static", "uncertainty")


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
        encoder: ``{"_target_": <Encoder subclass>, **its keyword arguments}``
            (:func:`graphrec.models.encoders.build_encoder`).
        decoder: ``{"_target_": class, ...}`` (``graphrec.models.decoders.DotProduct``,
            ``HadamardMLP``, ``DistMult``, ``graphrec.models.ncn.NeuralCommonNeighbors``).
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
        check_module_args(lr, weight_decay, supervision_ratio, loss_weighting, encoder, head)
        self.save_hyperparameters()
        metadata = (list(metadata[0]), [tuple(et) for et in metadata[1]])
        self.encoder = build_encoder(metadata, node_specs, encoder)
        self.sparse_embeddings = sparse_embeddings
        if sparse_embeddings:
            use_sparse_gradients(self.encoder)
        dim = self.encoder.out_channels
        self.tasks = nn.ModuleDict({
            name: build_task(name, spec, dim, decoder or {}, head or {}, node_specs)
            for name, spec in tasks.items()})
        self.lr, self.weight_decay = lr, weight_decay
        self.supervision_ratio = supervision_ratio
        self.reads_graph = any(reads_graph(getattr(t, "decoder", None))
                               for t in self.tasks.values())
        if self.reads_graph and not supervision_ratio:
            # Without hidden supervision pairs, each training positive's own edge would be in
            # the graph its common neighbours are read from (no target link removal).
            raise ConfigError("a decoder that reads the graph (ncn) needs model.supervision_ratio "
                              "in (0, 1), e.g. model.supervision_ratio=0.3, so each step's target "
                              "edges leave the graph it reads")
        self.loss_weighting = loss_weighting
        # log sigma^2 per task, 0 = weight 1 at the start; only trained with "uncertainty".
        self.log_vars = nn.ParameterDict({name: nn.Parameter(torch.zeros(()))
                                          for name in self.tasks}) \
            if loss_weighting == "uncertainty" else None

    def forward(self, graph) -> dict[str, torch.Tensor]:
        return self.encoder(graph)

    def _hide_supervision(self, graph, targets):
        """Each task hides this step's supervision from a shallow copy of the graph."""
        graph, targets = copy.copy(graph), dict(targets)
        for name, task in self.tasks.items():
            graph, targets[name] = task.hide_supervision(graph, targets[name],
                                                         self.supervision_ratio)
        return graph, targets

    def training_step(self, batch, batch_idx):
        if "graph" not in batch:  # data.loader=neighbor: one sampled subgraph per task
            return self._subgraph_step(batch)
        graph, targets = batch["graph"], batch["targets"]
        # An encoder that passes no messages has nothing to hide: every pair supervises.
        # (A decoder that reads the graph still needs its targets hidden.)
        if self.supervision_ratio and (self.encoder.passes_messages or self.reads_graph):
            graph, targets = self._hide_supervision(graph, targets)
        z = self(graph)
        losses = {}
        for name, task in self.tasks.items():
            losses[name] = task.loss(z, targets[name], graph)
            self.log(f"train/{name}/loss", losses[name], batch_size=1)
        total = self.combine_losses(losses)
        self.check_loss(total, losses)
        self.log("train/loss", total, batch_size=1, prog_bar=True)
        return total

    def check_loss(self, total: torch.Tensor, losses: Mapping[str, torch.Tensor]) -> None:
        """Stops training on a NaN/inf loss, naming the task and the epoch.

        One scalar check (one device sync) per step; the per-task losses are only looked
        at once the total is already known to be bad. Without it, a NaN loss silently
        turns every parameter into NaN and the run keeps going.
        """
        if bool(torch.isfinite(total)):
            return
        bad = [name for name, loss in losses.items() if not bool(torch.isfinite(loss))]
        where = f"train/{bad[0]}" if bad else "train"
        value = losses[bad[0]] if bad else total
        kind = "NaN" if bool(torch.isnan(value)) else "infinite"
        raise NonFiniteError(f"loss is {kind} at epoch {self.current_epoch} "
                             f"(step {self.global_step})", where)

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
            losses[name] = task.subgraph_loss(self.encoder(batch[name]), batch[name])
            self.log(f"train/{name}/loss", losses[name], batch_size=1)
        total = self.combine_losses(losses)
        self.check_loss(total, losses)
        self.log("train/loss", total, batch_size=1, prog_bar=True)
        return total

    def _evaluate(self, batch, split: str) -> dict[str, float]:
        graph, targets = batch["graph"], batch["targets"]
        # Users held out of training (inductive split) get the ID fallback of new users.
        with unseen_id_rows(self, batch.get("new_nodes")):
            # Mini-batch mode embeds all nodes layer by layer with bounded memory.
            z = self.encoder.inference(graph, batch.get("neighborhoods"))
        metrics, primary = {}, []
        for name, task in self.tasks.items():
            with located(f"{split}/{name}"):
                task_metrics = task.evaluate(z, targets[name], graph)
            for key, value in task_metrics.items():
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
