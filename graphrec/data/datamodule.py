"""The datamodule: build the graph, check it can serve the tasks, split it, serve batches."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import lightning as L
import torch
from torch.utils.data import DataLoader
from torch_geometric.data import HeteroData

from graphrec.checks import check_data_args
from graphrec.data.inductive import InductiveLinkSplit, without_nodes
from graphrec.data.leakage import message_passing_graph, relation_splits
from graphrec.data.minibatch import NeighborBatches, full_graph_share, sort_by_destination
from graphrec.data.negatives import extra_eval_negatives
from graphrec.data.schema import validate
from graphrec.data.splits import TRAIN, VAL
from graphrec.tasks.base import task_class, task_options
from graphrec.text import featurize_graph, text_input_spec
from graphrec.utils.errors import ConfigError
from graphrec.utils.provenance import fingerprint

SPLITS = ("train", "val", "test")
EVAL_NEGATIVES = ("uniform", "heart")


def _identity(batch):
    return batch


class GraphDataModule(L.LightningDataModule):
    """Full-graph training: one batch per epoch holding the split's message-passing graph.

    Args:
        source: a callable returning the ``HeteroData`` (e.g. the synthetic generator).
        tasks: task name -> its config: ``_target_`` (a :class:`graphrec.tasks.base.Task`
            subclass, or the ``kind: link|node`` shorthand) and the task's options, e.g.
            ``{"kind": "link", "edge_type": [...]}``; the task class splits it.
        val_ratio, test_ratio: held-out fractions per task.
        temporal: split by time (``edge_time`` / node ``time``) instead of at random.
        num_eval_negatives: corrupted targets ranked against each val/test positive.
        split_seed: seed of the split and of the evaluation negatives.
        text: node type -> text featurizer config (:mod:`graphrec.text`) for node types whose
            source provides raw ``text``; unlisted ones get ``hashed_bow``.
        loader: ``full`` (one full-graph step per epoch) or ``neighbor`` (mini-batches of
            sampled subgraphs, layer-wise evaluation; see :mod:`graphrec.data.minibatch`).
        neighbor: options of :class:`~graphrec.data.minibatch.NeighborBatches`.
        eval_negatives: ``uniform`` corrupted targets per val/test positive, or ``heart``:
            each source's top non-edges by resource allocation on the split's
            message-passing graph (HeaRT-style hard negatives; tasks across two node types
            keep uniform ones).
        shared_negatives: if > 0, also this many uniform random non-edge pairs per held-out
            pair, shared by all positives of the split (the Planetoid/OGB protocol of
            ``shared_hits@K``); 0: none.
        test_graph: the test split's message-passing graph: ``train_val`` (train and
            validation edges, the default) or ``train`` (the validation graph, as the NCN
            paper's Planetoid runs score their test split).
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
        eval_negatives: str = "uniform",
        shared_negatives: int = 0,
        test_graph: str = "train_val",
    ):
        super().__init__()
        check_data_args(val_ratio, test_ratio, temporal, num_eval_negatives, split_seed, loader,
                        neighbor)
        self.minibatch = NeighborBatches(**(neighbor or {})) if loader == "neighbor" else None
        self.source = source
        self.task_classes = {name: task_class(name, spec) for name, spec in tasks.items()}
        self.tasks = {name: task_options(spec) for name, spec in tasks.items()}
        self.val_ratio, self.test_ratio, self.temporal = val_ratio, test_ratio, temporal
        self.num_eval_negatives = num_eval_negatives
        self.split_seed = split_seed
        self.text = text
        if eval_negatives not in EVAL_NEGATIVES:
            raise ConfigError(f"data.eval_negatives={eval_negatives!r}; choose one of "
                              f"{EVAL_NEGATIVES}")
        self.eval_negatives, self.shared_negatives = eval_negatives, shared_negatives
        if test_graph not in ("train_val", "train"):
            raise ConfigError(f"data.test_graph={test_graph!r}; choose train_val or train")
        self.test_graph = test_graph
        # Evaluation negatives beyond the splits' own (HeaRT, shared): in the fingerprint.
        self.extras: dict = {}
        self._data_fingerprint: str | None = None  # set where setup reorders the graph
        self.graph: HeteroData | None = None
        self.splits: dict[str, object] = {}  # task name -> its task class's split
        self.batches: dict[str, dict] = {}

    @property
    def source_name(self) -> str:
        return getattr(self.source, "name", type(self.source).__name__)

    def _alternative(self, name: str) -> str:
        """A fix for a task the data cannot serve; never an empty task list, which cannot run."""
        others = [t for t in self.tasks if t != name]
        drop = f"drop the task, e.g. task=[{','.join(others)}], or " if others else ""
        return (f"{drop}pick a task this data has (its config names the tasks it serves), or "
                "data that has what the task needs, e.g. data=synthetic")

    def _check_split_sizes(self) -> None:
        """Stops before training when a split of a task is empty (NaN losses, empty metrics)."""
        for name, s in self.splits.items():
            for split in SPLITS:
                n = self.task_classes[name].num_targets(s, split)
                if n == 0:
                    raise ConfigError(
                        f"task '{name}': the {split} split of data '{self.source_name}' is "
                        "empty; check the data files (a corpus needs rows in each split's file) "
                        "or raise data.val_ratio / data.test_ratio")

    def _check_servable(self, graph: HeteroData) -> None:
        """Stops before training when a task asks for something the data does not have."""
        seen = {}
        for name, spec in self.tasks.items():
            cls = self.task_classes[name]
            problem = cls.check_servable(name, spec, graph)
            if problem:
                raise ConfigError(f"task '{name}' {problem} in data '{self.source_name}'; "
                                  f"{self._alternative(name)}")
            target = cls.target_of(spec)
            if target in seen:
                raise ConfigError(f"tasks '{seen[target]}' and '{name}' both target {target}")
            seen[target] = name

    def _check_symmetry(self, name: str, et, symmetric: bool) -> None:
        """A task must split a relation the way the source stores it: a symmetric relation
        split as directed would leave each held-out pair's twin in the training graph."""
        declared = getattr(self.source, "edge_symmetry", {}).get(tuple(et))
        if declared is not None and declared != symmetric:
            raise ConfigError(
                f"task '{name}' treats {tuple(et)} as {'un' if symmetric else ''}directed, but "
                f"data '{self.source_name}' declares it symmetric: {str(declared).lower()}; set "
                f"symmetric: {str(declared).lower()} in the task")

    def setup(self, stage: str | None = None) -> None:
        if self.graph is not None:
            return
        graph = featurize_graph(self.source(), self.text)
        validate(graph, strict=False)
        self._check_servable(graph)
        g = torch.Generator().manual_seed(self.split_seed)
        for name, spec in self.tasks.items():
            cls = self.task_classes[name]
            if hasattr(cls, "is_symmetric"):
                self._check_symmetry(name, cls.target_of(spec), cls.is_symmetric(spec))
            self.splits[name] = cls.make_split(
                graph, spec, source=self.source, val_ratio=self.val_ratio,
                test_ratio=self.test_ratio, temporal=self.temporal,
                num_negatives=self.num_eval_negatives, generator=g)
        self._check_split_sizes()
        # The leakage rule: every task's held-out edges leave the message-passing graphs.
        held_out = [ls for name, s in self.splits.items()
                    for ls in self.task_classes[name].held_out(s)]
        order = None
        if self.minibatch is not None:
            # Mini-batch data is kept in CSC order, so the samplers read the message-passing
            # graphs' own edges. Sorted after the split, which is drawn as before; the
            # fingerprints stay those of the data as its source built it, so checkpoints of
            # earlier runs still match.
            self._data_fingerprint = fingerprint(graph)
            # The edges the test graph leaves out go last: its edges are then a prefix of
            # the full graph's, shared as views (0.6 GiB less at a million users).
            last = {t: split > VAL for ls in held_out for t, split, _ in relation_splits(ls)}
            order = sort_by_destination(graph, last)
        train_graph = message_passing_graph(graph, held_out, TRAIN, order)
        for s in self.splits.values():
            if isinstance(s, InductiveLinkSplit):  # new users have no edge while training
                train_graph = without_nodes(train_graph, s.edge_type[0], s.new_nodes)
        test_graph = (train_graph if self.test_graph == "train"
                      else message_passing_graph(graph, held_out, VAL, order))
        graphs = {"train": train_graph, "val": train_graph, "test": test_graph}
        self.extras = extra_eval_negatives(self.splits, graphs, self.eval_negatives,
                                           self.shared_negatives, g)
        for split in SPLITS:
            targets = {name: {**self.task_classes[name].split_targets(s, split),
                              **self.extras.get((name, split), {})}
                       for name, s in self.splits.items()}
            self.batches[split] = {"graph": graphs[split], "targets": targets}
            new_nodes = {s.edge_type[0]: s.new_nodes for s in self.splits.values()
                         if isinstance(s, InductiveLinkSplit)}
            if new_nodes and split != "train":
                self.batches[split]["new_nodes"] = new_nodes
            if self.minibatch is not None and split != "train":
                self.batches[split]["neighborhoods"] = self.minibatch.neighborhoods(graphs[split])
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
    def raw_ids(self) -> dict[str, list]:
        """Node type -> raw ids (item ``i`` names node ``i``), for the node types whose source
        keeps them; absent types use the node index as their id."""
        return {nt: list(self.graph[nt].raw_id) for nt in self.graph.node_types
                if "raw_id" in self.graph[nt]}

    @property
    def data_fingerprint(self) -> str:
        return self._data_fingerprint or fingerprint(self.graph)

    @property
    def split_fingerprint(self) -> str:
        # Unchanged for runs without extra negatives, so earlier fingerprints still match.
        return fingerprint(self.splits, self.extras) if self.extras else fingerprint(self.splits)

    def _by_task(self) -> dict:
        return {name: (self.task_classes[name], s) for name, s in self.splits.items()}

    def _loader(self, split: str) -> DataLoader:
        return DataLoader([self.batches[split]], batch_size=None, collate_fn=_identity)

    def _rank(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def train_dataloader(self):
        rank, world_size = self._rank()
        if self.minibatch is not None:
            return self.minibatch.train_loader(self.batches["train"]["graph"], self._by_task(),
                                               rank, world_size, torch.initial_seed() % 2**31)
        if world_size > 1:  # each rank supervises on its own share of the train targets
            batch = full_graph_share(self.batches["train"], self._by_task(), rank, world_size)
            return DataLoader([batch], batch_size=None, collate_fn=_identity)
        return self._loader("train")

    def val_dataloader(self):
        return self._loader("val")

    def test_dataloader(self):
        return self._loader("test")
