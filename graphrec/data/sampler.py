"""Pure-torch neighbor sampling for PyG's ``NeighborLoader`` and ``LinkNeighborLoader``.

PyG's loaders hand the actual sampling step to a compiled kernel (``pyg-lib`` or
``torch-sparse``) and raise ``ImportError`` when neither is installed; there is no
maintained pure-torch sampler that plugs into them. :class:`TorchNeighborSampler`
subclasses PyG's own :class:`~torch_geometric.sampler.NeighborSampler` and replaces only
that step (``_sample``) with vectorized torch ops, so the CSC conversion, link sampling
with negative sampling, bidirectional subgraphs and feature filtering all stay PyG's code.

Usage (the loaders ignore their own sampling arguments once ``neighbor_sampler`` is given,
but still validate ``time_attr`` against ``input_time``/``edge_label_time``, so pass the
same arguments to both)::

    sampler = make_neighbor_sampler(data, num_neighbors=[15, 10])
    loader = NeighborLoader(data, num_neighbors=[15, 10], neighbor_sampler=sampler,
                            batch_size=1024, shuffle=True)
    link_loader = LinkNeighborLoader(data, num_neighbors=[15, 10], neighbor_sampler=sampler,
                                     edge_label_index=data.edge_index,
                                     neg_sampling_ratio=1.0, batch_size=1024)

The output follows pyg-lib's conventions: seeds come first in ``node``, every hop appends
the neighbors it saw for the first time in first-seen order, ``row``/``col`` are local
indices of the neighbor (edge source) and of the node it was sampled for (edge target),
and ``edge`` holds positions in the CSC layout that PyG maps back through
``edge_permutation``. pyg-lib also draws neighbors with Floyd's algorithm, so apart from
the random numbers themselves a batch comes out as pyg-lib would build it.
"""

import warnings
from typing import Any
from unittest import mock

import torch
import torch_geometric.typing
from torch import Tensor
from torch_geometric.data import Data, HeteroData
from torch_geometric.sampler import HeteroSamplerOutput, NeighborSampler, SamplerOutput
from torch_geometric.sampler.base import SubgraphType
from torch_geometric.sampler.neighbor_sampler import NumNeighborsType
from torch_geometric.typing import EdgeType, NodeType

from graphrec.utils.threads import ThreadPolicy

# A homogeneous graph is sampled as a heterogeneous one with a single node and edge type,
# so that one code path serves both.
_NODE: NodeType = "node"
# A node not (yet) in the batch, in the relabelling tables: larger than any local index.
_UNSEEN = torch.iinfo(torch.long).max
_EDGE: EdgeType = (_NODE, "to", _NODE)


def compiled_sampler_available() -> bool:
    """Returns whether PyG can sample neighbors with a compiled kernel.

    Returns:
        ``True`` if ``pyg-lib`` or ``torch-sparse`` is importable.
    """
    return torch_geometric.typing.WITH_PYG_LIB or torch_geometric.typing.WITH_TORCH_SPARSE


def make_neighbor_sampler(
    data: Data | HeteroData,
    num_neighbors: NumNeighborsType,
    **kwargs: Any,
) -> NeighborSampler:
    """Builds the fastest neighbor sampler that supports the requested options.

    A compiled sampler wins when importable: ``pyg-lib`` handles everything, while
    ``torch-sparse`` lacks disjoint and temporal sampling, in which case
    :class:`TorchNeighborSampler` is used instead.

    Args:
        data: The graph to sample from.
        num_neighbors: Fan-out per hop, as a list or as a dict of lists per edge type;
            ``-1`` takes all neighbors.
        **kwargs: Further arguments of :class:`~torch_geometric.sampler.NeighborSampler`
            (``disjoint``, ``time_attr``, ``temporal_strategy``, ...).

    Returns:
        A sampler to pass to the loaders as ``neighbor_sampler=``.
    """
    needs_pyg_lib = kwargs.get("disjoint", False) or kwargs.get("time_attr") is not None
    if torch_geometric.typing.WITH_PYG_LIB or (
        torch_geometric.typing.WITH_TORCH_SPARSE and not needs_pyg_lib
    ):
        return NeighborSampler(data, num_neighbors, **kwargs)
    return TorchNeighborSampler(data, num_neighbors, **kwargs)


class TorchNeighborSampler(NeighborSampler):
    """PyG's :class:`~torch_geometric.sampler.NeighborSampler` with a pure-torch kernel.

    Samples uniformly without replacement, per hop and per edge type, on ``Data`` and
    ``HeteroData``, with ``disjoint`` subgraphs and with node- or edge-level temporal
    sampling. Temporal sampling follows pyg-lib: a neighbor qualifies if its time (or the
    edge's time) is ``<=`` the time of the seed whose subgraph is being grown, where the seed
    time is ``input_time``/``edge_label_time`` if given, else the seed node's own time.
    ``temporal_strategy='uniform'`` samples uniformly among the qualifying neighbors,
    ``'last'`` takes the most recent ones. As in PyG, temporal sampling implies ``disjoint``.

    Args:
        data: The graph to sample from.
        num_neighbors: Fan-out per hop, as a list or as a dict of lists per edge type;
            ``-1`` takes all neighbors.
        subgraph_type: ``'directional'`` or ``'bidirectional'``; ``'induced'`` is not
            supported.
        disjoint: Whether every seed grows its own subgraph, tracked in ``batch``.
        temporal_strategy: ``'uniform'`` or ``'last'``.
        time_attr: Name of a node- or edge-level time attribute.
        is_sorted: Whether ``edge_index`` is already sorted by target node (and by time
            within each neighborhood if ``time_attr`` is set).
        share_memory: Whether to move the CSC graph to shared memory for worker processes.
        directed: PyG's deprecated alias: ``False`` means ``subgraph_type='induced'``.
        sample_direction: ``'forward'`` (neighbors along incoming edges, PyG's default).

    ``edge_index`` may be int64 or int32; both give the same samples.

    Raises:
        NotImplementedError: For ``replace=True``, ``weight_attr``, ``'induced'`` subgraphs
            (or ``directed=False``) and ``sample_direction='backward'``, which need pyg-lib;
            the message names the argument.
        ValueError: For an unknown ``temporal_strategy`` or ``sample_direction``.
    """

    def __init__(
        self,
        data: Data | HeteroData,
        num_neighbors: NumNeighborsType,
        subgraph_type: SubgraphType | str = "directional",
        replace: bool = False,
        disjoint: bool = False,
        temporal_strategy: str = "uniform",
        time_attr: str | None = None,
        weight_attr: str | None = None,
        is_sorted: bool = False,
        share_memory: bool = False,
        directed: bool = True,
        sample_direction: str = "forward",
    ):
        name = type(self).__name__
        unsupported = []
        if replace:
            unsupported.append("replace=True (it samples without replacement)")
        if weight_attr is not None:
            unsupported.append(f"weight_attr={weight_attr!r} (it samples uniformly)")
        if SubgraphType(subgraph_type) == SubgraphType.induced:
            unsupported.append("subgraph_type='induced' (use 'directional' or 'bidirectional')")
        if not directed:
            unsupported.append("directed=False, PyG's alias of subgraph_type='induced' (use "
                               "subgraph_type='directional' or 'bidirectional')")
        if sample_direction not in ("forward", "backward"):
            raise ValueError(f"sample_direction={sample_direction!r}; PyG accepts 'forward' or "
                             "'backward'")
        if sample_direction == "backward":
            unsupported.append("sample_direction='backward' (it samples 'forward' only)")
        if unsupported:
            raise NotImplementedError(
                f"{name} does not support {'; '.join(unsupported)}; install 'pyg-lib' for "
                "PyG's compiled sampler, which does")
        if temporal_strategy not in ("uniform", "last"):
            raise ValueError(f"Unknown temporal strategy '{temporal_strategy}'")

        # The base class warns that running without pyg-lib is deprecated, and refuses
        # edge-level time unless pyg-lib's kernel accepts it; neither applies to the kernel
        # below, so both are lifted while the base class builds the (time-sorted) CSC graph.
        with (
            warnings.catch_warnings(),
            mock.patch.object(torch_geometric.typing, "WITH_EDGE_TIME_NEIGHBOR_SAMPLE", True),
        ):
            warnings.filterwarnings("ignore", message=".*without a 'pyg-lib' installation")
            super().__init__(
                data,
                num_neighbors,
                subgraph_type=subgraph_type,
                disjoint=disjoint,
                temporal_strategy=temporal_strategy,
                time_attr=time_attr,
                is_sorted=is_sorted,
                share_memory=share_memory,
            )
        # Hundreds of small ops per batch: at two threads they stall on a busy machine
        # (graphrec.utils.threads), so sampling uses the cores other processes leave free.
        self.thread_policy = ThreadPolicy()

    def _sample(
        self,
        seed: Tensor | dict[NodeType, Tensor],
        seed_time: Tensor | dict[NodeType, Tensor] | None = None,
        **kwargs: Any,
    ) -> SamplerOutput | HeteroSamplerOutput:
        """Samples the multi-hop neighborhood of ``seed``.

        Overrides the base method that calls the compiled kernels; the loaders call it via
        ``sample_from_nodes``/``sample_from_edges``.

        Args:
            seed: Seed node ids, shape ``(num_seeds,)``, or a dict of them per node type.
            seed_time: Time of each seed, same layout as ``seed``; only used for temporal
                sampling.
            **kwargs: Unused; part of the base signature.

        Returns:
            ``SamplerOutput`` for ``Data``, ``HeteroSamplerOutput`` for ``HeteroData``.
        """
        with self.thread_policy.limit():
            try:
                return self._sample_under_policy(seed, seed_time)
            except BaseException:
                # A batch stopped midway leaves nodes in the relabelling tables: clear them
                # whole (the normal path resets only the batch's own nodes).
                for table in (getattr(self, "_slot_tables", None) or {}).values():
                    table.fill_(_UNSEEN)
                raise

    def _slots(self, num_nodes: dict[NodeType, int]) -> dict[NodeType, Tensor] | None:
        """Node id -> local index tables for relabelling (see ``_relabel_into``), made on
        first use in each process (loader workers get their own) and kept between batches."""
        if self.disjoint:  # keys range over seeds x nodes: no dense table
            return None
        if getattr(self, "_slot_tables", None) is None:
            self._slot_tables = {t: torch.full((n,), _UNSEEN) for t, n in num_nodes.items()}
        return self._slot_tables

    def _sample_under_policy(self, seed, seed_time):
        if self.is_hetero:
            return _sample_hops(
                seed=seed,
                graph={
                    self.to_edge_type[k]: (self.colptr_dict[k], self.row_dict[k])
                    for k in self.colptr_dict
                },
                fanouts=self.num_neighbors.get_values(self.edge_types),
                num_hops=self.num_neighbors.num_hops,
                num_nodes=self.num_nodes,
                disjoint=self.disjoint,
                strategy=self.temporal_strategy,
                node_time=self.node_time,
                edge_time=None
                if self.edge_time is None
                else {self.to_edge_type[k]: v for k, v in self.edge_time.items()},
                seed_time=seed_time,
                slots=self._slots(self.num_nodes),
            )

        out = _sample_hops(
            seed={_NODE: seed},
            graph={_EDGE: (self.colptr, self.row)},
            fanouts={_EDGE: self.num_neighbors.get_values()},
            num_hops=self.num_neighbors.num_hops,
            num_nodes={_NODE: self.num_nodes},
            disjoint=self.disjoint,
            strategy=self.temporal_strategy,
            node_time=None if self.node_time is None else {_NODE: self.node_time},
            edge_time=None if self.edge_time is None else {_EDGE: self.edge_time},
            seed_time=None if seed_time is None else {_NODE: seed_time},
            slots=self._slots({_NODE: self.num_nodes}),
        )
        return SamplerOutput(
            node=out.node[_NODE],
            row=out.row[_EDGE],
            col=out.col[_EDGE],
            edge=out.edge[_EDGE],
            batch=None if out.batch is None else out.batch[_NODE],
            num_sampled_nodes=out.num_sampled_nodes[_NODE],
            num_sampled_edges=out.num_sampled_edges[_EDGE],
        )


def _sample_hops(
    seed: dict[NodeType, Tensor],
    graph: dict[EdgeType, tuple[Tensor, Tensor]],
    fanouts: dict[EdgeType, list[int]],
    num_hops: int,
    num_nodes: dict[NodeType, int],
    disjoint: bool,
    strategy: str,
    node_time: dict[NodeType, Tensor] | None,
    edge_time: dict[EdgeType, Tensor] | None,
    seed_time: dict[NodeType, Tensor] | None,
    slots: dict[NodeType, Tensor] | None = None,
) -> HeteroSamplerOutput:
    """Multi-hop neighbor sampling over a (possibly single-typed) heterogeneous graph.

    Mirrors pyg-lib's loop structure: in every hop, each edge type ``(src, rel, dst)``
    expands the ``dst`` nodes first sampled in the previous hop, and the neighbors found
    are relabeled per node type in edge type order.

    Args:
        seed: Seed node ids per node type, shape ``(num_seeds,)``.
        graph: ``(colptr, row)`` CSC tensors per edge type, shapes ``(num_dst + 1,)`` and
            ``(num_edges,)``.
        fanouts: Neighbors to sample per hop and edge type; ``-1`` takes all.
        num_hops: Number of hops.
        num_nodes: Number of nodes per node type.
        disjoint: Whether every seed grows its own subgraph.
        strategy: Temporal strategy, ``'uniform'`` or ``'last'``.
        node_time: Time per node, shape ``(num_nodes,)``, for the node types that have one.
        edge_time: Time per edge in CSC order, shape ``(num_edges,)``, per edge type.
        seed_time: Time per seed, shape ``(num_seeds,)``; defaults to the seeds' node time.
        slots: Per node type, a ``(num_nodes,)`` table holding ``_UNSEEN`` everywhere, used to
            relabel without sorting (not in disjoint mode); left as it was found when the
            sampling completes.

    Returns:
        The sampled subgraph with local ``row``/``col`` indices and CSC edge positions.

    Raises:
        ValueError: If sampling is temporal and a seed has no time (edge-level time needs
            ``input_time``/``edge_label_time``).
    """
    node_types = list(num_nodes)
    # Divisor of the keys below; guarded for node types without nodes (and keys).
    size = {t: max(n, 1) for t, n in num_nodes.items()}
    empty = torch.empty(0, dtype=torch.long)

    # Nodes are identified by keys: the global id, or in disjoint mode
    # `subgraph * num_nodes + id`, so that a node reached from two seeds is two nodes. A
    # node's local index is its position in `keys`, and the nodes to expand in the next hop
    # are the slice `frontier` of it.
    keys = {t: seed.get(t, empty).long() for t in node_types}
    if disjoint:  # Subgraph ids run across the seed types in the order they were given.
        offset = 0
        for t in seed:
            keys[t] = torch.arange(offset, offset + keys[t].numel()) * size[t] + keys[t]
            offset += keys[t].numel()
    if node_time is not None or edge_time is not None:
        if seed_time is None:
            if node_time is None or not all(t in node_time for t in seed):
                raise ValueError("Temporal sampling needs a time for every seed node")
            seed_time = {t: node_time[t][s] for t, s in seed.items()}
        root_time = torch.cat([seed_time[t] for t in seed])

    frontier = {t: (0, keys[t].numel()) for t in node_types}
    num_sampled_nodes = {t: [keys[t].numel()] for t in node_types}
    num_sampled_edges: dict[EdgeType, list[int]] = {k: [] for k in graph}
    rows: dict[EdgeType, list[Tensor]] = {k: [] for k in graph}
    cols: dict[EdgeType, list[Tensor]] = {k: [] for k in graph}
    edges: dict[EdgeType, list[Tensor]] = {k: [] for k in graph}

    if slots is not None:
        for t in node_types:  # the seeds (a repeated seed: its first position)
            slots[t].scatter_reduce_(0, keys[t], torch.arange(keys[t].numel()), "amin")
    for hop in range(num_hops):
        found: dict[NodeType, list[tuple[EdgeType, Tensor]]] = {t: [] for t in node_types}
        for edge_type, (colptr, row) in graph.items():
            src, _, dst = edge_type
            begin, end = frontier[dst]
            dst_key = keys[dst][begin:end]
            dst_node = dst_key % size[dst] if disjoint else dst_key
            # int64 from here on: an int32 edge_index gives int32 CSC tensors, and index
            # arithmetic mixing them with int64 offsets fails in index_put.
            start, stop = colptr[dst_node].long(), colptr[dst_node + 1].long()
            k = fanouts[edge_type][hop]

            # PyG allows node- or edge-level time, not both; as in pyg-lib, neighbors of a
            # node type without a time are not filtered.
            time, time_index = None, None
            if edge_time is not None and edge_type in edge_time:
                time = edge_time[edge_type]
            elif node_time is not None and src in node_time:
                time, time_index = node_time[src], row
            if time is not None:
                limit = root_time[dst_key // size[dst]]
                stop = _time_cut(start, stop, limit, time, time_index)
                if strategy == "last" and k >= 0:
                    start = torch.maximum(start, stop - k)

            target, edge = _sample_ranges(start, stop, k)
            neighbor = row[edge].long()
            if disjoint:  # A neighbor joins the subgraph of the node that found it.
                neighbor = dst_key[target] // size[dst] * size[src] + neighbor
            found[src].append((edge_type, neighbor))
            cols[edge_type].append(target + begin)
            edges[edge_type].append(edge)
            num_sampled_edges[edge_type].append(edge.numel())

        for t in node_types:
            num_old = keys[t].numel()
            if found[t]:
                everything = torch.cat([n for _, n in found[t]])
                local, new = (_relabel(keys[t], everything) if slots is None
                              else _relabel_into(slots[t], keys[t].numel(), everything))
                split = local.split([n.numel() for _, n in found[t]])
                for (edge_type, _), row_local in zip(found[t], split, strict=True):
                    rows[edge_type].append(row_local)
                keys[t] = torch.cat([keys[t], new])
            frontier[t] = (num_old, keys[t].numel())
            num_sampled_nodes[t].append(keys[t].numel() - num_old)

    if slots is not None:  # back to all-unseen for the next batch
        for t in node_types:
            slots[t][keys[t]] = _UNSEEN
    node, batch = keys, None
    if disjoint:
        node = {t: v % size[t] for t, v in keys.items()}
        batch = {t: v // size[t] for t, v in keys.items()}
    return HeteroSamplerOutput(
        node=node,
        row={k: torch.cat(v) if v else empty for k, v in rows.items()},
        col={k: torch.cat(v) if v else empty for k, v in cols.items()},
        edge={k: torch.cat(v) if v else empty for k, v in edges.items()},
        batch=batch,
        num_sampled_nodes=num_sampled_nodes,
        num_sampled_edges=num_sampled_edges,
    )


def _sample_ranges(start: Tensor, stop: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Samples up to ``k`` positions per range ``[start, stop)``, uniformly, no replacement.

    Ranges with at most ``k`` positions (or all ranges if ``k < 0``) are taken whole.

    Args:
        start: First position of each range, shape ``(n,)``.
        stop: End (exclusive) of each range, shape ``(n,)``.
        k: Positions to sample per range; ``-1`` takes all.

    Returns:
        ``(target, position)``, both of shape ``(num_sampled,)``: the range each sampled
        position belongs to, and the position; grouped by range, ranges in order.
    """
    size = stop - start
    count = size if k < 0 else size.clamp(max=k)
    target = torch.repeat_interleave(count)
    offset = torch.arange(target.numel()) - (count.cumsum(0) - count)[target]
    partial = size > count
    if partial.any():
        # Rows of partially sampled ranges are contiguous and in range order, so their
        # k slots line up with the row-major (m, k) draw.
        offset[partial[target]] = _floyd_sample(size[partial], k).view(-1)
    return target, start[target] + offset


def _floyd_sample(size: Tensor, k: int) -> Tensor:
    """Draws ``k`` distinct offsets in ``[0, size)`` per row, uniformly (Floyd's algorithm).

    Slot ``i`` draws ``r`` from ``[0, size - k + i]`` and takes ``size - k + i`` instead if
    ``r`` is already taken (that value cannot be, as earlier slots draw from smaller
    ranges). Every k-subset is equally likely and no row ever needs a retry, unlike
    rejection sampling. Work is ``O(k^2)`` per row, independent of the range size, so hubs
    cost no more than any other node; the Python loop runs over the ``k`` slots only.

    Args:
        size: Range sizes, all ``> k``, shape ``(m,)``.
        k: Offsets to draw per row.

    Returns:
        Offsets, shape ``(m, k)``, in no particular order within a row.
    """
    out = size.new_empty(size.numel(), k)
    for i in range(k):
        upper = size - k + i
        # float64 keeps `rand * (upper + 1)` below `upper + 1` for any realistic degree.
        r = (torch.rand(size.numel(), dtype=torch.float64) * (upper + 1)).long()
        taken = (out[:, :i] == r.unsqueeze(1)).any(dim=1)
        out[:, i] = torch.where(taken, upper, r)
    return out


def _time_cut(
    start: Tensor,
    stop: Tensor,
    limit: Tensor,
    time: Tensor,
    time_index: Tensor | None = None,
) -> Tensor:
    """Shrinks every range ``[start, stop)`` to its prefix with time ``<= limit``.

    PyG's CSC conversion sorts each neighborhood by time when ``time_attr`` is set, so the
    qualifying neighbors form a prefix; a binary search over all ranges at once finds its
    end, as pyg-lib's ``std::upper_bound`` does, without touching every neighbor.

    Args:
        start: First position of each range, shape ``(n,)``.
        stop: End (exclusive) of each range, shape ``(n,)``.
        limit: Latest admissible time per range, shape ``(n,)``.
        time: Edge time per CSC position, or node time if ``time_index`` is given.
        time_index: Node id per CSC position (the CSC ``row``), for node-level time.

    Returns:
        The new range ends, shape ``(n,)``.
    """
    lo, hi = start.clone(), stop.clone()
    width = int((stop - start).max()) if start.numel() > 0 else 0
    for _ in range(width.bit_length()):
        active = lo < hi
        mid = torch.where(active, (lo + hi) // 2, 0)
        ok = time[mid if time_index is None else time_index[mid]] <= limit
        lo = torch.where(active & ok, mid + 1, lo)
        hi = torch.where(active & ~ok, mid, hi)
    return lo


def _relabel_into(table: Tensor, num_seen: int, found: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`_relabel` with a node-indexed ``table`` (local index of each node seen so far,
    ``_UNSEEN`` elsewhere) instead of sorting: a scatter and two gathers over ``found``
    only, where sorting costs ``O((s + f) log(s + f))`` in every hop of every batch.

    Gives the same ``(local, new)`` as ``_relabel``, and records the new nodes in ``table``.
    """
    position = torch.arange(num_seen, num_seen + found.numel())
    # Seen nodes keep their (smaller) local index; an unseen one takes its first position.
    table.scatter_reduce_(0, found, position, "amin")
    first = table[found]
    is_new = first == position
    new_index = num_seen + is_new.cumsum(0) - 1
    new = found[is_new]
    table[new] = new_index[is_new]
    local = torch.where(first < num_seen, first, new_index[(first - num_seen).clamp(min=0)])
    return local, new


def _relabel(seen: Tensor, found: Tensor) -> tuple[Tensor, Tensor]:
    """Maps node keys to local indices, appending unseen ones in first-seen order.

    Works on sorted keys (``torch.unique``) rather than a dense ``num_nodes``-sized lookup
    table, so the cost depends on the batch only and disjoint keys (which range over
    ``num_seeds * num_nodes``) work the same way.

    Args:
        seen: Keys of the nodes sampled so far; position = local index, shape ``(s,)``.
        found: Keys of the neighbors just sampled, shape ``(f,)``.

    Returns:
        ``(local, new)``: the local index of every entry of ``found``, shape ``(f,)``,
        and the keys to append to ``seen``, shape ``(num_new,)``.
    """
    num_seen = seen.numel()
    all_keys = torch.cat([seen, found])
    unique, inverse = torch.unique(all_keys, return_inverse=True)
    position = torch.arange(all_keys.numel())
    first_of_key = torch.full_like(unique, all_keys.numel())
    first_of_key.scatter_reduce_(0, inverse, position, "amin")
    first = first_of_key[inverse[num_seen:]]  # Where each found key occurs first.
    is_new = first == position[num_seen:]
    new_index = num_seen + is_new.cumsum(0) - 1
    local = torch.where(first < num_seen, first, new_index[(first - num_seen).clamp(min=0)])
    return local, found[is_new]
