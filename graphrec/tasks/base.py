"""The task protocol: what one learning task is, from its split to its metrics.

A task kind is one :class:`Task` subclass (one file) plus one YAML naming it with
``_target_``. The datamodule and the LightningModules call only these hooks, so a new kind
(edge regression, group membership, ranking a feed) touches nothing else:

* data side (class methods: the data is split before any model exists): :meth:`target_of`,
  :meth:`check_servable`, :meth:`make_split`, :meth:`split_targets`, :meth:`held_out`
  (the leakage rule: which edges leave the message-passing graphs), :meth:`train_loader`
  (mini-batches) and :meth:`share` (a DDP rank's share of a full-graph step);
* model side: :meth:`from_config`, :meth:`hide_supervision`, :meth:`loss` (full graph),
  :meth:`subgraph_loss` (a sampled batch) and :meth:`evaluate` (metrics).

``spec`` is the task's plain config (``task.<name>`` without ``_target_``).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import hydra
import torch
from torch import nn

from graphrec.utils.errors import ConfigError

# Shorthands of the built-in kinds (``kind: link`` in a task config) for ``_target_``.
KINDS = {"link": "graphrec.tasks.link.LinkTask",
         "node": "graphrec.tasks.node.NodeClassificationTask"}


class Task(nn.Module):
    """Base of every task kind; see the module docstring for the hooks."""

    kind = ""  # a short word for messages ("link", "node")
    primary_metric = ""  # the metric averaged into ``split/score`` (higher is better)
    loss_weight: float = 1.0

    # -- data side -------------------------------------------------------------------------
    @classmethod
    def target_of(cls, spec: Mapping) -> Hashable:
        """What the task predicts (an edge or node type); two tasks may not share one."""
        raise NotImplementedError

    @classmethod
    def check_servable(cls, name: str, spec: Mapping, graph) -> str | None:
        """Why ``graph`` cannot serve the task (a phrase for the error), or None."""
        return None

    @classmethod
    def make_split(cls, graph, spec: Mapping, *, source, val_ratio: float, test_ratio: float,
                   temporal: bool, num_negatives: int, generator: torch.Generator):
        """The task's train/val/test split of ``graph`` (seeded by ``generator``)."""
        raise NotImplementedError

    @classmethod
    def split_targets(cls, split, which: str) -> dict:
        """What :meth:`loss` / :meth:`evaluate` get for split ``which`` (train, val, test)."""
        raise NotImplementedError

    @classmethod
    def num_targets(cls, split, which: str) -> int:
        """How many targets split ``which`` holds (an empty one stops the run)."""
        return next(iter(cls.split_targets(split, which).values())).size(-1)

    @classmethod
    def held_out(cls, split) -> list:
        """The :class:`~graphrec.data.splits.LinkSplit` s whose held-out edges leave the
        message-passing graphs (graphrec.data.leakage); none for tasks that hide no edges."""
        return []

    @classmethod
    def train_loader(cls, split, graph, batches, loader_kwargs: dict):
        """A mini-batch loader of the task's train seeds over ``graph`` (``data.loader=
        neighbor``), from :class:`graphrec.data.minibatch.NeighborBatches` ``batches``."""
        raise ConfigError(f"{cls.__name__} has no mini-batch loader; use data.loader=full")

    @classmethod
    def share(cls, targets: dict, graph, split, rank: int, world_size: int):
        """``(targets, graph)`` of one DDP rank's share of a full-graph step."""
        raise ConfigError(f"{cls.__name__} cannot be split across DDP ranks in full-graph mode; "
                          "use data.loader=neighbor or one device")

    # -- model side ------------------------------------------------------------------------
    @classmethod
    def from_config(cls, name: str, spec: Mapping, dim: int, decoder: Mapping, head: Mapping,
                    node_specs: Mapping) -> Task:
        """The task module, from its spec and the model's shared ``decoder``/``head`` configs."""
        return cls(name, dim=dim, **spec)

    def hide_supervision(self, graph, target: dict, ratio: float):
        """``(graph, target)`` of one training step: tasks whose supervision could be read off
        the graph (link tasks) hide the step's pairs from it. ``graph`` is a shallow copy the
        task may edit."""
        return graph, target

    def loss(self, z: dict, target: dict, graph) -> torch.Tensor:
        raise NotImplementedError

    def subgraph_loss(self, z: dict, batch) -> torch.Tensor:
        raise NotImplementedError

    def evaluate(self, z: dict, target: dict, graph) -> dict[str, float]:
        raise NotImplementedError


def task_class(name: str, spec: Mapping) -> type[Task]:
    """The :class:`Task` subclass of a task config (``_target_``, or ``kind`` shorthand)."""
    target = spec.get("_target_") or KINDS.get(spec.get("kind"))
    if not target:
        raise ConfigError(f"task '{name}' names no task class; give task.{name}._target_ (e.g. "
                          f"graphrec.tasks.link.LinkTask) or task.{name}.kind (one of "
                          f"{', '.join(KINDS)})")
    try:
        cls = hydra.utils.get_class(target)
    except Exception:
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise ConfigError(f"task.{name}._target_={target!r} is not a task class (a subclass of "
                          "graphrec.tasks.base.Task)")
    return cls


def task_options(spec: Mapping) -> dict:
    """The spec without the keys that only pick the class."""
    return {k: v for k, v in spec.items() if k not in ("_target_", "kind")}


def build_task(name: str, spec: Mapping, dim: int, decoder: Mapping, head: Mapping,
               node_specs: Mapping) -> Task:
    """A task module from its plain config (see :func:`task_class`)."""
    return task_class(name, spec).from_config(name, task_options(spec), dim, decoder or {},
                                              head or {}, node_specs)
