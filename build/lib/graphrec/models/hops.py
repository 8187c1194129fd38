"""Layer-by-layer trimming of a neighbor-sampled subgraph to the nodes later layers still read.

A batch from PyG's neighbor loaders lists its nodes and edges hop by hop
(``num_sampled_nodes``/``num_sampled_edges`` on every store). With ``L`` layers, the output at
the seeds (hop 0) needs layer ``i`` (0-based) only at the nodes within ``L - 1 - i`` hops, and
those read only their neighbours within ``L - i`` hops over the edges of hops ``1 .. L - i``.

Why not only PyG's ``trim_to_layer``: it drops the outermost hops' nodes and edges before each
layer but still computes every layer for all remaining nodes, including the outermost hop that
no later layer reads. With fan-out [5, 3] at 1M users the outermost hop is 80% of a batch's
nodes, so the first layer would still do five times the needed work. Here each relation's
convolution gets ``(x_src, x_dst)`` with the destination cut to the nodes that matter, which
PyG's bipartite convolutions (SAGE, GAT) take as they are; HGT, which has no bipartite form,
gets PyG-style trimmed inputs and its output is cut afterwards. The seed rows come out equal to
the untrimmed forward pass (tested).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch


def _counts(value) -> list[int]:
    return [int(v) for v in (value.tolist() if torch.is_tensor(value) else value)]


class SampledHops:
    """Per-hop node and edge counts of one sampled batch, and the prefixes each layer needs.

    Args:
        nodes: per node type, nodes added at hops ``0, 1, ..``.
        edges: per edge type, edges sampled at hops ``1, 2, ..``.
    """

    def __init__(self, nodes: Mapping[str, list[int]], edges: Mapping[tuple, list[int]]):
        self.nodes = {nt: list(c) for nt, c in nodes.items()}
        self.edges = {et: list(c) for et, c in edges.items()}

    @classmethod
    def of(cls, graph, num_layers: int) -> SampledHops | None:
        """The hop counts of ``graph`` when it is a sampled batch that reaches ``num_layers``
        hops everywhere; ``None`` for a whole graph (which then runs untrimmed)."""
        nodes, edges = {}, {}
        for nt in graph.node_types:
            value = graph[nt].get("num_sampled_nodes")
            if value is None:
                return None
            nodes[nt] = _counts(value)
            if len(nodes[nt]) < num_layers + 1 or sum(nodes[nt]) != graph[nt].num_nodes:
                return None
        for et in graph.edge_types:
            value = graph[et].get("num_sampled_edges")
            if value is None:
                return None
            edges[et] = _counts(value)
            if len(edges[et]) < num_layers or sum(edges[et]) != graph[et].num_edges:
                return None
        return cls(nodes, edges)

    def layer(self, i: int, num_layers: int):
        """``(src, dst, edges)`` counts for layer ``i``: the nodes it reads (hops
        ``0 .. L - i``), the nodes it must output (hops ``0 .. L - 1 - i``), and the leading
        edges it passes messages over (hops ``1 .. L - i``)."""
        reach = num_layers - i
        src = {nt: sum(c[:reach + 1]) for nt, c in self.nodes.items()}
        dst = {nt: sum(c[:reach]) for nt, c in self.nodes.items()}
        edges = {et: sum(c[:reach]) for et, c in self.edges.items()}
        return src, dst, edges


def trimmed_layer(layer, bipartite: bool, x: dict, edge_index: dict, hops: SampledHops,
                  i: int, num_layers: int):
    """Applies message-passing ``layer`` (number ``i``) to the nodes it must output.

    Returns ``(h, x_dst)``: the layer's output and the inputs, both cut to the destination
    prefix, so the caller's residual adds matching rows.
    """
    src, dst, edges = hops.layer(i, num_layers)
    x_src = {nt: v[:src[nt]] for nt, v in x.items()}
    ei = {et: e[:, :edges[et]] for et, e in edge_index.items()}
    if bipartite:
        # HeteroConv takes an argument keyed by edge type as that relation's own input, so
        # each relation's convolution gets (sources, destination prefix).
        pairs = {et: (x_src[et[0]], x_src[et[2]][:dst[et[2]]]) for et in ei}
        h = layer(pairs, ei)
    else:
        h = {nt: v[:dst[nt]] for nt, v in layer(x_src, ei).items() if v is not None}
    return h, {nt: v[:dst[nt]] for nt, v in x_src.items()}
