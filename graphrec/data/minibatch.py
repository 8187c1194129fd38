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
from torch_geometric.loader import LinkNeighborLoader, NeighborLoader
from torch_geometric.sampler import NegativeSampling

from graphrec.data.sampler import make_neighbor_sampler
from graphrec.data.schema import reverse_edge_type
from graphrec.data.splits import LinkSplit, NodeSplit

# Per-node tensors that NodeInput reads: dense features and each text featurizer's output
# (hashed n-gram ids, frozen sentence embeddings).
INPUT_KEYS = ("x", "tokens", "text_emb")


def structure_of(graph: HeteroData) -> HeteroData:
    """The graph's edges and node counts only, so inference loaders copy no features."""
    out = HeteroData()
    for nt in graph.node_types:
        out[nt].num_nodes = graph[nt].num_nodes
    for et in graph.edge_types:
        out[et].edge_index = graph[et].edge_index
    return out


class HideSupervision:
    """``LinkNeighborLoader`` transform: drops the batch's positive pairs from its subgraph.

    The loader is given ``edge_label_index = split.train``, so a seed's ``input_id`` is its
    pair id, and the message-passing graph tags each target edge (either direction, and its
    reverse-type copy) with the same ``pair_id``.
    """

    def __init__(self, edge_type):
        self.edge_type = tuple(edge_type)

    def __call__(self, batch: HeteroData) -> HeteroData:
        seeds = batch[self.edge_type].input_id
        for et in {self.edge_type, reverse_edge_type(self.edge_type)}:
            if et not in batch.edge_types or "pair_id" not in batch[et]:
                continue
            store = batch[et]
            keep = ~torch.isin(store.pair_id, seeds)
            if "num_sampled_edges" in store:
                # Edges are listed hop by hop; the per-hop counts must follow the removal or
                # layer trimming (graphrec.models.hops) would cut at the wrong places.
                counts = torch.as_tensor(store.num_sampled_edges)
                hop = torch.repeat_interleave(torch.arange(counts.numel()), counts)
                store.num_sampled_edges = torch.bincount(
                    hop[keep], minlength=counts.numel()).tolist()
            for key in list(store.keys()):
                value = store[key]
                if key == "edge_index":
                    store[key] = value[:, keep]
                elif torch.is_tensor(value) and value.dim() > 0 and value.size(0) == keep.numel():
                    store[key] = value[keep]
        return batch


def _tensors_only(graph: HeteroData) -> HeteroData:
    """A shallow copy without list-valued node attributes (``raw_id``): PyG's loaders slice
    every node attribute as a tensor and stop at a list, and a sampled batch needs no ids."""
    out = copy.copy(graph)
    for store in out.node_stores:
        for key in [k for k, v in store.items() if isinstance(v, (list, tuple))]:
            del store[key]
    return out


def seed_share(n: int, rank: int, world_size: int) -> torch.Tensor:
    """Indices of the ``n`` seeds this rank trains on in a full-graph step: disjoint strides."""
    return torch.arange(rank, n, world_size)


class NeighborBatches:
    """Builds the mini-batch training loaders and the layer-wise embedder of one datamodule.

    Args:
        num_neighbors: fan-out per hop (every edge type), e.g. ``[15, 10]``.
        batch_size: seed pairs (link tasks) or seed nodes (node tasks) per batch.
        neg_sampling_ratio: random negative pairs per positive (PyG's binary negative
            sampling: uniform sources and targets).
        eval_batch_size: nodes per chunk of layer-wise inference.
        num_workers: DataLoader worker processes (0: sample in the training process).
    """

    def __init__(self, num_neighbors=(15, 10), batch_size: int = 1024,
                 neg_sampling_ratio: float = 1.0, eval_batch_size: int = 4096,
                 num_workers: int = 0):
        self.num_neighbors = [int(k) for k in num_neighbors]
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.neg_sampling_ratio = neg_sampling_ratio
        self.num_workers = num_workers
        self._samplers: dict[int, object] = {}

    def _sampler(self, graph: HeteroData):
        # One CSC conversion per message-passing graph, shared by all its loaders.
        key = id(graph)
        if key not in self._samplers:
            self._samplers[key] = (graph, make_neighbor_sampler(structure_of(graph),
                                                                self.num_neighbors))
        return self._samplers[key][1]

    def _loader_kwargs(self, n: int, rank: int, world_size: int, seed: int) -> dict:
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

    def train_loader(self, graph: HeteroData, splits: Mapping[str, LinkSplit | NodeSplit],
                     rank: int = 0, world_size: int = 1, seed: int = 0) -> CombinedLoader:
        """One loader per task over ``graph`` (the train message-passing graph), zipped."""
        sampler = self._sampler(graph)
        graph = _tensors_only(graph)
        loaders = {}
        for name, split in splits.items():
            if isinstance(split, LinkSplit):
                pairs = split.train
                loaders[name] = LinkNeighborLoader(
                    graph, self.num_neighbors, neighbor_sampler=sampler,
                    edge_label_index=(split.edge_type, pairs),
                    neg_sampling=NegativeSampling("binary", self.neg_sampling_ratio),
                    transform=HideSupervision(split.edge_type),
                    **self._loader_kwargs(pairs.size(1), rank, world_size, seed))
            else:
                loaders[name] = NeighborLoader(
                    graph, self.num_neighbors, neighbor_sampler=sampler,
                    input_nodes=(split.node_type, split.train),
                    **self._loader_kwargs(split.train.numel(), rank, world_size, seed))
        # An epoch runs until every task has seen all its seeds; shorter ones cycle.
        return CombinedLoader(loaders, mode="max_size_cycle")

    def embedder(self, graph: HeteroData) -> LayerwiseEmbedder:
        return LayerwiseEmbedder(graph, self, self.eval_batch_size)


class LayerwiseEmbedder:
    """Embeds all nodes of ``graph`` with a :class:`HeteroEncoder`, one layer at a time.

    Called by the module in place of the full forward pass (``batch["embed"](encoder)``).
    Mirrors ``HeteroEncoder.forward`` step by step (inputs, message passing with residual and
    norm, projection); a test checks the two agree.
    """

    def __init__(self, graph: HeteroData, batches: NeighborBatches, chunk: int):
        self.graph, self.batches, self.chunk = graph, batches, chunk

    def _full_neighborhoods(self):
        # The split's sampler with one hop that takes every in-neighbor.
        sampler = copy.copy(self.batches._sampler(self.graph))
        sampler.num_neighbors = [-1]
        return sampler

    @torch.no_grad()
    def __call__(self, encoder) -> dict[str, torch.Tensor]:
        # conv=identity has no parameters: then the inputs stay where they are (CPU).
        device = next(encoder.parameters(), torch.empty(0)).device
        graph, chunk = self.graph, self.chunk
        node_types = list(encoder.inputs)
        x = {}
        for nt in node_types:
            store, parts = graph[nt], []
            for idx in torch.arange(store.num_nodes).split(chunk):
                inputs = {k: store[k][idx].to(device) for k in INPUT_KEYS if k in store}
                parts.append(encoder.inputs[nt](inputs, idx.to(device)))
            x[nt] = torch.cat(parts)
        sampler = self._full_neighborhoods() if encoder.conv_kind != "mlp" else None
        structure = structure_of(graph)
        for layer, norm in zip(encoder.layers, encoder.norms):
            new = {}
            for nt in node_types:
                parts = []
                if sampler is None:
                    for idx in torch.arange(graph[nt].num_nodes).split(chunk):
                        h = layer[nt](x[nt][idx.to(device)])
                        parts.append(x[nt][idx.to(device)] + encoder.dropout(
                            torch.relu(norm[nt](h))))
                    new[nt] = torch.cat(parts)
                    continue
                loader = NeighborLoader(structure, [-1], neighbor_sampler=sampler,
                                        input_nodes=nt, batch_size=chunk)
                for sub in loader:
                    sub = sub.to(device)
                    xs = {t: x[t][sub[t].n_id] for t in node_types}
                    h = layer(xs, sub.edge_index_dict)
                    n = sub[nt].batch_size
                    v = xs[nt][:n]
                    # Residual: node types that receive no messages keep their state.
                    parts.append(v + encoder.dropout(torch.relu(norm[nt](h[nt][:n])))
                                 if nt in h else v)
                new[nt] = torch.cat(parts) if parts else x[nt]
            x = new
        return {nt: torch.cat([encoder.out[nt](v) for v in x[nt].split(chunk)])
                if x[nt].numel() else encoder.out[nt](x[nt]) for nt in node_types}


def full_graph_share(batch: dict, splits: Mapping[str, LinkSplit | NodeSplit], rank: int,
                     world_size: int) -> dict:
    """The full-graph train batch with this rank's share of supervision targets.

    Every rank passes messages over the whole train graph; only the supervised pairs and
    nodes are split. Target edges keep their ``pair_id`` only if their pair is in this
    rank's share (renumbered to index the share), so the module's per-step hiding draws
    from and hides this rank's pairs; the other ranks' pairs always carry messages here.
    """
    graph, targets = copy.copy(batch["graph"]), dict(batch["targets"])
    for name, split in splits.items():
        if isinstance(split, NodeSplit):
            index = targets[name]["index"]
            targets[name] = {**targets[name], "index": index[seed_share(index.numel(), rank,
                                                                         world_size)]}
            continue
        pos = targets[name]["pos"]
        share = seed_share(pos.size(1), rank, world_size)
        targets[name] = {**targets[name], "pos": pos[:, share]}
        renumber = torch.full((pos.size(1) + 1,), -1, dtype=torch.long)
        renumber[share] = torch.arange(share.numel())
        for et in {split.edge_type, reverse_edge_type(split.edge_type)}:
            if et in graph.edge_types and "pair_id" in graph[et]:
                pid = graph[et].pair_id
                # Index -1 (held-out edge) reads the last slot, which stays -1.
                graph[et]["pair_id"] = renumber[pid]
    return {**batch, "graph": graph, "targets": targets}
