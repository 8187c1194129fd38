"""Mini-batch training and batched inference through PyG's neighbor loaders.

Training: every link task draws its seed pairs through PyG's ``LinkNeighborLoader`` (with its
binary negative sampling), the node task through ``NeighborLoader``, and Lightning's
``CombinedLoader`` zips them so that one step sees one sampled subgraph per task. Sampling
uses :func:`graphrec.data.sampler.make_neighbor_sampler`: the compiled pyg-lib/torch-sparse
kernel where installed, the pure-torch sampler otherwise.

Leakage follows the full-graph path: loaders sample only from the split's message-passing
graph (train target edges only), and each link batch's positive pairs are removed from that
batch's subgraph — both directions, and their reverse-type copies — so a pair never carries
its own endpoints to each other (PyG's loaders keep them, as they expect a pre-split
``disjoint_train_ratio``; hiding per batch lets every train pair supervise once per epoch).

Evaluation embeds every node layer by layer (as PyG's ``BasicGNN.inference`` does): each layer
is applied to the full 1-hop in-neighborhood of a chunk of nodes, so the result equals the
full-graph forward pass exactly while memory is bounded by the chunk, not the graph.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import torch
from lightning.pytorch.utilities import CombinedLoader
from torch.utils.data import DistributedSampler
from torch_geometric.data import HeteroData
from torch_geometric.loader import NeighborLoader

from graphrec.data.leakage import hide_pairs, select_edges
from graphrec.data.sampler import make_neighbor_sampler
from graphrec.utils.threads import follow_load

# In-edges per chunk of layer-wise inference: a layer step holds one message per edge, so
# about 130 MB of float32 messages at 64 channels.
EVAL_BATCH_EDGES = 1 << 19


def structure_of(graph: HeteroData) -> HeteroData:
    """The graph's edges and node counts only, so inference loaders copy no features."""
    out = HeteroData()
    for nt in graph.node_types:
        out[nt].num_nodes = graph[nt].num_nodes
    for et in graph.edge_types:
        out[et].edge_index = graph[et].edge_index
    return out


def sorted_by_destination(edge_index: torch.Tensor) -> bool:
    """Whether edges are grouped by destination node in ascending order (CSC order)."""
    return _ascending(edge_index[1])


def _ascending(key: torch.Tensor) -> bool:
    return key.numel() < 2 or bool((key[1:] >= key[:-1]).all())


def sort_by_destination(graph: HeteroData, last: Mapping | None = None) -> dict:
    """Orders every relation's edges by destination node, in place, with their attributes.

    Args:
        graph: the full graph.
        last: edge type -> ``[E]`` bool, the edges to put after all others (each part in
            destination order): the edges the test graph leaves out, so that graph's edges
            of the relation are a prefix of the full graph's, which it shares as a view
            (:func:`graphrec.data.leakage.keep_edges`) instead of copying.

    Returns edge type -> the permutation applied (new position -> old position), for the
    relations that were not already in order.

    Neighbour samplers read a graph in CSC form, its edges grouped by destination. Sorted
    this way, ``edge_index[0]`` already is that form's row array and no permutation is
    needed, so the sampler of each message-passing graph (train, test) keeps no copy of the
    edges: at a million users that is 16 bytes for each of ~50M edges per graph. The
    message-passing graphs select edges with masks, which keeps the order. Stable, so
    edges into one node keep their relative order.
    """
    order = {}
    for et in graph.edge_types:
        store = graph[et]
        ei = store.edge_index
        key = ei[1]
        if last is not None and et in last and bool(last[et].any()):
            key = key + last[et].long() * graph[et[2]].num_nodes
        if not _ascending(key):
            order[et] = torch.argsort(key, stable=True)
            select_edges(store, order[et], ei.size(1))
    return order


class HideSupervision:
    """``LinkNeighborLoader`` transform: drops the batch's positive pairs from its subgraph.

    The loader is given ``edge_label_index = split.train``, so a seed's ``input_id`` is its
    pair id, and the message-passing graph tags each target edge (either direction, and its
    reverse-type copy) with the same ``pair_id``.
    """

    def __init__(self, edge_type):
        self.edge_type = tuple(edge_type)

    def __call__(self, batch: HeteroData) -> HeteroData:
        return hide_pairs(batch, self.edge_type, batch[self.edge_type].input_id)


def _tensors_only(graph: HeteroData) -> HeteroData:
    """A shallow copy without list-valued node attributes (``raw_id``): PyG's loaders slice
    every node attribute as a tensor and stop at a list, and a sampled batch needs no ids."""
    out = copy.copy(graph)
    for store in out.node_stores:
        for key in [k for k, v in store.items() if isinstance(v, (list, tuple))]:
            del store[key]
    return out


class NeighborBatches:
    """Builds the mini-batch training loaders and the layer-wise inference inputs of one
    datamodule.

    Args:
        num_neighbors: fan-out per hop (every edge type), e.g. ``[15, 10]``.
        batch_size: seed pairs (link tasks) or seed nodes (node tasks) per batch.
        neg_sampling_ratio: random negative pairs per positive (PyG's binary negative
            sampling: uniform sources and targets).
        eval_batch_size: nodes per chunk of layer-wise inference.
        eval_batch_edges: in-edges per chunk of layer-wise inference, at most (a node with
            more is a chunk of its own); ``None``: chunks are bounded by nodes only.
        num_workers: DataLoader worker processes (0: sample in the training process).
    """

    def __init__(self, num_neighbors=(15, 10), batch_size: int = 1024,
                 neg_sampling_ratio: float = 1.0, eval_batch_size: int = 4096,
                 eval_batch_edges: int | None = EVAL_BATCH_EDGES, num_workers: int = 0):
        self.num_neighbors = [int(k) for k in num_neighbors]
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.eval_batch_edges = eval_batch_edges
        self.neg_sampling_ratio = neg_sampling_ratio
        self.num_workers = num_workers
        self._samplers: dict[int, object] = {}

    def _sampler(self, graph: HeteroData):
        # One CSC conversion per message-passing graph, shared by all its loaders.
        key = id(graph)
        if key not in self._samplers:
            # A graph already in CSC order (sort_by_destination) lends its edges as is.
            is_sorted = all(sorted_by_destination(graph[et].edge_index)
                            for et in graph.edge_types)
            self._samplers[key] = (graph, make_neighbor_sampler(
                structure_of(graph), self.num_neighbors, is_sorted=is_sorted))
        return self._samplers[key][1]

    def sampler(self, graph: HeteroData):
        """The neighbour sampler of ``graph`` (one CSC conversion, shared by its loaders)."""
        return self._sampler(graph)

    def loader_kwargs(self, n: int, rank: int = 0, world_size: int = 1, seed: int = 0) -> dict:
        """DataLoader options for ``n`` seeds: batch size, workers, shuffling (DDP-aware)."""
        kwargs = {"batch_size": self.batch_size, "num_workers": self.num_workers,
                  "persistent_workers": self.num_workers > 0}
        if world_size > 1:
            # Each rank draws its own share of seeds; Lightning must not swap this sampler
            # (trainer.use_distributed_sampler=false in trainer=ddp).
            kwargs["sampler"] = DistributedSampler(range(n), num_replicas=world_size, rank=rank,
                                                   shuffle=True, seed=seed)
        else:
            kwargs["shuffle"] = True
        return kwargs

    def train_loader(self, graph: HeteroData, tasks: Mapping[str, tuple],
                     rank: int = 0, world_size: int = 1, seed: int = 0) -> CombinedLoader:
        """One loader per task over ``graph`` (the train message-passing graph), zipped.

        Args:
            graph: the train message-passing graph.
            tasks: task name -> ``(task class, its split)``; each class builds its loader.
        """
        sampler = self._sampler(graph)
        graph = _tensors_only(graph)
        # The copy shares the edges: its loaders use the original's sampler (one CSC).
        self._samplers[id(graph)] = (graph, sampler)
        loaders = {}
        for name, (cls, split) in tasks.items():
            n = split.train.size(-1)
            loader = cls.train_loader(split, graph, self,
                                      self.loader_kwargs(n, rank, world_size, seed))
            loaders[name] = follow_load(loader, getattr(sampler, "thread_policy", None))
        # An epoch runs until every task has seen all its seeds; shorter ones cycle.
        return CombinedLoader(loaders, mode="max_size_cycle")

    def neighborhoods(self, graph: HeteroData) -> FullNeighborhoods:
        """What layer-wise evaluation of ``graph`` reads (see :class:`FullNeighborhoods`)."""
        return FullNeighborhoods(graph, self, self.eval_batch_size, self.eval_batch_edges)


class _Chunks:
    """A DataLoader batch sampler over consecutive chunks, one list of positions at a time:
    all chunks as lists at once would hold a Python int per node (4M posts at a million
    users, about 150 MB)."""

    def __init__(self, sizes: list[int]):
        self.sizes = sizes

    def __len__(self) -> int:
        return len(self.sizes)

    def __iter__(self):
        start = 0
        for n in self.sizes:
            yield list(range(start, start + n))
            start += n


class FullNeighborhoods:
    """Chunks of one split's nodes, each with all of its in-neighbours: the input of the
    encoders' layer-wise ``inference`` (PyG's ``BasicGNN.inference`` takes such a loader).

    Data only: it says which nodes and edges a layer reads; the model computes
    (``encoder.inference(graph, neighborhoods)``).

    Args:
        graph: the split's message-passing graph.
        batches: the datamodule's :class:`NeighborBatches` (its sampler of ``graph``).
        chunk: nodes per chunk.
        chunk_edges: in-edges per chunk, at most, over all relations into the node type (a
            node with more is a chunk of its own); ``None``: no bound. A layer step holds a
            message per in-edge of its chunk, so this bounds its memory. Node counts alone do
            not: at a million users, one chunk of 16,384 skills or companies holds every
            edge into them (millions), and its messages took over a gigabyte.
    """

    def __init__(self, graph: HeteroData, batches: NeighborBatches, chunk: int,
                 chunk_edges: int | None = None):
        self.graph, self.batches, self.chunk = graph, batches, chunk
        self.chunk_edges = chunk_edges
        self._structure = None
        self._sizes: dict[str, list[int]] = {}  # every layer reads the same chunks

    def chunks(self, node_type: str) -> list[torch.Tensor]:
        """The ``node_type`` node ids, in order, cut into chunks of at most ``chunk`` nodes
        and (but for single nodes of higher in-degree) ``chunk_edges`` in-edges."""
        return list(torch.arange(self.graph[node_type].num_nodes).split(self.sizes(node_type)))

    def sizes(self, node_type: str) -> list[int]:
        """The node counts of :meth:`chunks`, computed once per node type."""
        if node_type not in self._sizes:
            self._sizes[node_type] = self._chunk_sizes(node_type)
        return self._sizes[node_type]

    def _chunk_sizes(self, node_type: str) -> list[int]:
        n = self.graph[node_type].num_nodes
        ids = torch.arange(n)
        if self.chunk_edges is None or n == 0:
            return [c.numel() for c in ids.split(self.chunk)]
        degree = torch.zeros(n, dtype=torch.long)
        for et in self.graph.edge_types:
            if et[2] == node_type:
                degree += torch.bincount(self.graph[et].edge_index[1], minlength=n)
        # A node opens a new chunk where the in-edges before it cross a multiple of
        # chunk_edges, or its position a multiple of chunk: both keys only grow, so the
        # chunks are contiguous, and each holds < chunk_edges edges before its last node.
        before = torch.cumsum(degree, 0) - degree
        key = torch.stack([before // self.chunk_edges, ids // self.chunk])
        starts = torch.ones(n, dtype=torch.bool)
        starts[1:] = (key[:, 1:] != key[:, :-1]).any(0)
        return torch.diff(torch.cat([starts.nonzero().squeeze(1), torch.tensor([n])])).tolist()

    def of(self, node_type: str):
        """The ``node_type`` nodes in the chunks of :meth:`chunks`, in order: 1-hop subgraphs
        whose first ``batch_size`` ``node_type`` rows are the chunk's nodes."""
        if self._structure is None:
            self._structure = structure_of(self.graph)
        # The split's sampler with one hop that takes every in-neighbour.
        sampler = copy.copy(self.batches._sampler(self.graph))
        sampler.num_neighbors = [-1]
        loader = follow_load(NeighborLoader(self._structure, [-1], neighbor_sampler=sampler,
                                            input_nodes=node_type,
                                            batch_sampler=_Chunks(self.sizes(node_type))),
                             getattr(sampler, "thread_policy", None))
        try:
            yield from loader
        finally:
            # follow_load's wrappers hold the loader's own methods: a reference cycle, which
            # only the cycle collector frees, late, with the loader's input ids and sampler.
            loader.collate_fn = loader.filter_fn = None


def full_graph_share(batch: dict, tasks: Mapping[str, tuple], rank: int,
                     world_size: int) -> dict:
    """The full-graph train batch with this rank's share of supervision targets.

    Args:
        batch: the train batch (``graph``, ``targets``).
        tasks: task name -> ``(task class, its split)``; each class takes its share.
    """
    graph, targets = copy.copy(batch["graph"]), dict(batch["targets"])
    for name, (cls, split) in tasks.items():
        targets[name], graph = cls.share(targets[name], graph, split, rank, world_size)
    return {**batch, "graph": graph, "targets": targets}
