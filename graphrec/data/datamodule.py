"""The datamodule: build the graph, check it can serve the tasks, split it, serve batches."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import lightning as L
import torch
from torch.utils.data import DataLoader
from torch_geometric.data import HeteroData

from graphrec.data.inductive import SPLITS as LINK_SPLITS
from graphrec.data.inductive import InductiveLinkSplit, hold_out_users, without_nodes
from graphrec.data.minibatch import NeighborBatches, full_graph_share
from graphrec.data.schema import SYMMETRIC_EDGE_TYPES, as_edge_type, validate
from graphrec.data.splits import (
    TRAIN,
    VAL,
    LinkSplit,
    NodeSplit,
    fixed_node_split,
    message_passing_graph,
    split_links,
    split_nodes,
)
from graphrec.text import featurize_graph, text_input_spec
from graphrec.utils.errors import ConfigError
from graphrec.utils.provenance import fingerprint

SPLITS = ("train", "val", "test")
LOADERS = ("full", "neighbor")


def _identity(batch):
    return batch


class GraphDataModule(L.LightningDataModule):
    """Full-graph training: one batch per epoch holding the split's message-passing graph.

    Args:
        source: a callable returning the ``HeteroData`` (e.g. the synthetic generator).
        tasks: task name -> ``{"kind": "link", "edge_type": [...]}`` or
            ``{"kind": "node", "node_type": ...}``.
        val_ratio, test_ratio: held-out fractions per task.
        temporal: split by time (``edge_time`` / node ``time``) instead of at random.
        num_eval_negatives: corrupted targets ranked against each val/test positive.
        split_seed: seed of the split and of the evaluation negatives.
        text: node type -> text featurizer config (:mod:`graphrec.text`) for node types whose
            source provides raw ``text``; unlisted ones get ``hashed_bow``.
        loader: ``full`` (one full-graph step per epoch) or ``neighbor`` (mini-batches of
            sampled subgraphs, layer-wise evaluation; see :mod:`graphrec.data.minibatch`).
        neighbor: options of :class:`~graphrec.data.minibatch.NeighborBatches`.
    """

    def __init__(
        self,
        source: Callable[[], HeteroData],
        tasks: Mapping[str, Mapping],
        val_ratio: float = 0.1,
        test_ratio: float = 0.1,
        temporal: bool = False,
        num_eval_negatives: int = 100,
        split_seed: int = 0,
        text: Mapping[str, Mapping] | None = None,
        loader: str = "full",
        neighbor: Mapping | None = None,
    ):
        super().__init__()
        if loader not in LOADERS:
            raise ConfigError(f"data.loader={loader!r}; choose one of {LOADERS}")
        self.minibatch = NeighborBatches(**(neighbor or {})) if loader == "neighbor" else None
        if not 0 <= val_ratio < 1 or not 0 < test_ratio < 1 or val_ratio + test_ratio >= 1:
            raise ConfigError(
                f"val_ratio={val_ratio}, test_ratio={test_ratio}: both must be in (0, 1) and sum "
                "to less than 1"
            )
        self.source = source
        self.tasks = {name: dict(spec) for name, spec in tasks.items()}
        self.val_ratio, self.test_ratio, self.temporal = val_ratio, test_ratio, temporal
        self.num_eval_negatives = num_eval_negatives
        self.split_seed = split_seed
        self.text = text
        self.graph: HeteroData | None = None
        self.splits: dict[str, LinkSplit | NodeSplit] = {}
        self.batches: dict[str, dict] = {}

    @property
    def source_name(self) -> str:
        return getattr(self.source, "name", type(self.source).__name__)

    def _check_servable(self, graph: HeteroData) -> None:
        """Stops before training when a task asks for something the data does not have."""
        seen = {}
        for name, spec in self.tasks.items():
            if spec["kind"] == "link":
                et = as_edge_type(spec["edge_type"])
                if et not in graph.edge_types or graph[et].num_edges == 0:
                    raise ConfigError(
                        f"task '{name}' predicts {et} edges, but data '{self.source_name}' has "
                        f"none (it has {graph.edge_types}); drop the task, e.g. "
                        f"task=[{','.join(t for t in self.tasks if t != name)}], or pick data "
                        "that has this relation"
                    )
                target = et
            else:
                nt = spec["node_type"]
                if nt not in graph.node_types or "y" not in graph[nt]:
                    raise ConfigError(
                        f"task '{name}' classifies '{nt}' nodes, but data '{self.source_name}' "
                        f"has no labels {nt}.y; drop the task, e.g. "
                        f"task=[{','.join(t for t in self.tasks if t != name)}], or pick data "
                        "with labels"
                    )
                target = nt
            if target in seen:
                raise ConfigError(f"tasks '{seen[target]}' and '{name}' both target {target}")
            seen[target] = name

    def setup(self, stage: str | None = None) -> None:
        if self.graph is not None:
            return
        graph = featurize_graph(self.source(), self.text)
        validate(graph, strict=False)
        self._check_servable(graph)
        g = torch.Generator().manual_seed(self.split_seed)
        for name, spec in self.tasks.items():
            if spec["kind"] == "link":
                et = as_edge_type(spec["edge_type"])
                symmetric = et in SYMMETRIC_EDGE_TYPES or bool(spec.get("symmetric", False))
                official = getattr(self.source, "split_links", None)
                if official is not None:  # the data comes with its own split (OGB)
                    self.splits[name] = official(graph, et, symmetric=symmetric,
                                                 num_negatives=self.num_eval_negatives,
                                                 generator=g)
                    continue
                self.splits[name] = split_links(
                    graph, et, self.val_ratio, self.test_ratio, self.temporal,
                    symmetric=symmetric,
                    num_negatives=self.num_eval_negatives, generator=g)
                how = spec.get("split") or "transductive"
                if how not in LINK_SPLITS:
                    raise ConfigError(f"task.{name}.split={how}; choose one of {LINK_SPLITS}")
                if how == "inductive":
                    self.splits[name] = hold_out_users(
                        graph, self.splits[name], spec.get("new_user_ratio", 0.1),
                        spec.get("observed_ratio", 0.5), symmetric, self.num_eval_negatives, g)
            elif "train_mask" in graph[spec["node_type"]]:
                # The source's own (official) split, e.g. a corpus's train/dev/test files.
                self.splits[name] = fixed_node_split(graph, spec["node_type"])
            else:
                self.splits[name] = split_nodes(graph, spec["node_type"], self.val_ratio,
                                                self.test_ratio, self.temporal, g)
        links = [s for s in self.splits.values() if isinstance(s, LinkSplit)]
        train_graph = message_passing_graph(graph, links, TRAIN)
        for s in links:
            if isinstance(s, InductiveLinkSplit):  # new users have no edge while training
                train_graph = without_nodes(train_graph, s.edge_type[0], s.new_nodes)
        graphs = {"train": train_graph, "val": train_graph,
                  "test": message_passing_graph(graph, links, VAL)}
        for split in SPLITS:
            targets = {}
            for name, s in self.splits.items():
                if isinstance(s, LinkSplit):
                    targets[name] = {"pos": s.pairs(split)}
                    if split != "train":
                        targets[name]["neg"] = s.negatives(split)
                        if hasattr(s, "official_targets"):  # e.g. OGB's shared negatives
                            targets[name].update(s.official_targets(split))
                        if split == "test" and isinstance(s, InductiveLinkSplit):
                            targets[name]["new_users"] = {"pos": s.new_test,
                                                          "neg": s.new_test_neg}
                else:
                    targets[name] = {"index": getattr(s, split)}
            self.batches[split] = {"graph": graphs[split], "targets": targets}
            new_nodes = {s.edge_type[0]: s.new_nodes for s in links
                         if isinstance(s, InductiveLinkSplit)}
            if new_nodes and split != "train":
                self.batches[split]["new_nodes"] = new_nodes
            if self.minibatch is not None and split != "train":
                self.batches[split]["embed"] = self.minibatch.embedder(graphs[split])
        self.graph = graph

    # What the model needs to know about its inputs.
    @property
    def metadata(self) -> tuple[list[str], list[tuple[str, str, str]]]:
        return self.graph.metadata()

    @property
    def node_specs(self) -> dict[str, dict]:
        specs = {}
        for nt in self.graph.node_types:
            store = self.graph[nt]
            specs[nt] = {
                "num_nodes": int(store.num_nodes),
                "x_dim": int(store.x.size(1)) if "x" in store else 0,
                "text_buckets": int(store.num_buckets) if "tokens" in store else 0,
                "text": text_input_spec(store),
                "num_classes": int(store.y.max()) + 1 if "y" in store else 0,
            }
        return specs

    @property
    def data_fingerprint(self) -> str:
        return fingerprint(self.graph)

    @property
    def split_fingerprint(self) -> str:
        return fingerprint(self.splits)

    def _loader(self, split: str) -> DataLoader:
        return DataLoader([self.batches[split]], batch_size=None, collate_fn=_identity)

    def _rank(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def train_dataloader(self):
        rank, world_size = self._rank()
        if self.minibatch is not None:
            return self.minibatch.train_loader(self.batches["train"]["graph"], self.splits,
                                               rank, world_size, torch.initial_seed() % 2**31)
        if world_size > 1:  # each rank supervises on its own share of the train targets
            batch = full_graph_share(self.batches["train"], self.splits, rank, world_size)
            return DataLoader([batch], batch_size=None, collate_fn=_identity)
        return self._loader("train")

    def val_dataloader(self):
        return self._loader("val")

    def test_dataloader(self):
        return self._loader("test")
