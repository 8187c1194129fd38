"""What every encoder shares: per-type node inputs, the ``forward``/``inference`` contract, and
building an encoder from its plain config.

An encoder maps a ``HeteroData`` to ``z_dict`` (``{node type: [N_t, out_channels]}``). Each
family (SAGE, GAT, HGT, GCN, MLP, identity) is one class with its own ``forward`` and
``inference``; ``inference`` embeds every node of a whole graph with bounded memory (layer by
layer where the family has layers), as PyG's ``BasicGNN.inference`` does, so mini-batch
evaluation asks the model, never re-implements it.
"""

from __future__ import annotations

from collections.abc import Mapping

import hydra
import torch
from torch import nn

from graphrec.text.inputs import build_text_input
from graphrec.utils.errors import ConfigError

# Per-node tensors that node inputs read: dense features and each text featurizer's output
# (hashed n-gram ids, frozen sentence embeddings).
INPUT_KEYS = ("x", "tokens", "text_emb")


def stack_rows(parts, num_rows: int, empty: torch.Tensor | None = None) -> torch.Tensor:
    """Chunk results written, as they come, into one tensor of ``num_rows`` rows.

    ``torch.cat`` of a list holds every chunk twice at its peak (the list and the result): at
    a million users that is a gigabyte per node type during layer-wise inference.
    ``empty`` is returned when there are no chunks (no rows to embed).
    """
    out, start = None, 0
    for part in parts:
        if out is None:
            out = part.new_empty((num_rows, *part.shape[1:]))
        out[start:start + part.size(0)] = part
        start += part.size(0)
    if out is None:
        if empty is None:
            raise ValueError("no chunks to stack and no empty result given")
        return empty
    if start != num_rows:
        raise ValueError(f"chunks hold {start} rows, expected {num_rows}")
    return out


class NodeInput(nn.Module):
    """Initial embedding of one node type: features, text and an optional ID embedding, summed.

    Args:
        hidden: output width.
        x_dim: width of the dense features ``x`` (0: none).
        text_buckets: hashed n-gram buckets of ``tokens`` (0: no text).
        num_nodes: with ``id_embedding``, the size of the learnable ID table.
        id_embedding: add a learnable per-node vector (transductive; it cannot embed unseen nodes).
        text: the node's text input spec (:func:`graphrec.text.inputs.text_input_spec`); it
            replaces ``text_buckets``, which means ``{"kind": "hashed_bow"}``.
    """

    def __init__(self, hidden: int, x_dim: int = 0, text_buckets: int = 0, num_nodes: int = 0,
                 id_embedding: bool = False, text: Mapping | None = None):
        super().__init__()
        self.lin = nn.Linear(x_dim, hidden) if x_dim else None
        if text is None and text_buckets:
            text = {"kind": "hashed_bow", "num_buckets": text_buckets}
        # Text encoders live in graphrec.text: a new one never touches this file.
        self.text = build_text_input(text, hidden) if text else None
        self.ids = nn.Embedding(num_nodes, hidden) if id_embedding or not (x_dim or text) \
            else None
        if self.ids is not None:
            nn.init.normal_(self.ids.weight, std=0.1)

    def forward(self, store: Mapping, n_id: torch.Tensor | None = None) -> torch.Tensor:
        parts = []
        if self.lin is not None:
            parts.append(self.lin(store["x"]))
        if self.text is not None:
            parts.append(self.text(store))
        if self.ids is not None:
            idx = n_id if n_id is not None else torch.arange(
                self.ids.num_embeddings, device=self.ids.weight.device)
            parts.append(self.ids(idx))
        return torch.stack(parts).sum(0)


def id_embedding_types(node_types: list[str], id_embedding: bool | list[str]) -> set[str]:
    """The node types that get learned ID vectors (``True``: all); unknown names warn."""
    import warnings

    with_ids = set(node_types) if id_embedding is True else set(id_embedding or ())
    unknown = with_ids - set(node_types)
    if unknown:
        # The default names social-graph types; benchmark graphs have their own, so this
        # warns instead of failing.
        warnings.warn(f"id_embedding names node types {sorted(unknown)} that this graph "
                      f"does not have (it has {node_types}); ignoring them", stacklevel=3)
    return with_ids


def node_inputs(node_types: list[str], node_specs: Mapping[str, Mapping], hidden: int,
                id_embedding: bool | list[str]) -> nn.ModuleDict:
    """One :class:`NodeInput` per node type, from the datamodule's ``node_specs``."""
    with_ids = id_embedding_types(node_types, id_embedding)
    return nn.ModuleDict({
        nt: NodeInput(hidden, node_specs[nt].get("x_dim", 0), node_specs[nt].get("text_buckets", 0),
                      node_specs[nt]["num_nodes"], nt in with_ids, text=node_specs[nt].get("text"))
        for nt in node_types})


class Encoder(nn.Module):
    """Base of every encoder family.

    Args:
        metadata: ``(node_types, edge_types)`` of the graph (lists are turned into tuples:
            Hydra turns tuples into lists).

    Subclasses set ``passes_messages`` (whether a graph edge can carry a pair's endpoints to
    each other, which is what per-step supervision hiding guards against) and implement
    ``forward``; ``inference`` defaults to ``forward`` without gradients.
    """

    passes_messages = True
    out_channels: int  # width of every z_dict entry; subclasses set it

    def __init__(self, metadata):
        super().__init__()
        self.node_types = list(metadata[0])
        self.edge_types = [tuple(et) for et in metadata[1]]

    @property
    def metadata(self) -> tuple[list[str], list[tuple[str, str, str]]]:
        return self.node_types, self.edge_types

    def forward(self, graph) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
    def inference(self, graph, neighborhoods=None) -> dict[str, torch.Tensor]:
        """Embeds every node of the whole ``graph``.

        Args:
            graph: a split's message-passing graph.
            neighborhoods: a :class:`graphrec.data.minibatch.FullNeighborhoods` of ``graph``
                (chunks of nodes with all their in-neighbours) for families that embed layer
                by layer; ``None``: one full forward pass.
        """
        return self(graph)

    def add_residual_parts(self, hidden: int, out: int, num_layers: int, dropout: float) -> None:
        """The LayerNorm per layer and node type, the output projection per node type and the
        dropout that residual layer stacks (message passing, MLP) share."""
        self.norms = nn.ModuleList(
            nn.ModuleDict({nt: nn.LayerNorm(hidden) for nt in self.node_types})
            for _ in range(num_layers))
        self.out = nn.ModuleDict({nt: nn.Linear(hidden, out) for nt in self.node_types})
        self.dropout = nn.Dropout(dropout)

    def _device(self) -> torch.device:
        # Encoders without parameters (identity) compute where their inputs are.
        return next(self.parameters(), torch.empty(0)).device

    def embed_inputs(self, inputs: nn.ModuleDict, graph, chunk: int) -> dict[str, torch.Tensor]:
        """Every node's input vector, ``chunk`` nodes at a time (bounded input memory)."""
        device, out = self._device(), {}
        for nt in inputs:
            store = graph[nt]
            out[nt] = stack_rows(
                (inputs[nt]({k: store[k][idx].to(device) for k in INPUT_KEYS if k in store},
                            idx.to(device))
                 for idx in torch.arange(store.num_nodes).split(chunk)),
                store.num_nodes)
        return out


DEFAULT_ENCODER = "graphrec.models.encoders.SAGEEncoder"


def build_encoder(metadata, node_specs: Mapping[str, Mapping], spec: Mapping) -> Encoder:
    """The encoder named by ``spec["_target_"]`` (a class path; GraphSAGE when absent), built
    with the rest of ``spec``.

    The model config stays plain data (checkpoints store it), so the class is resolved here
    rather than by Hydra; only subclasses of :class:`Encoder` are accepted.
    """
    spec = dict(spec)
    target = spec.pop("_target_", DEFAULT_ENCODER)
    try:
        cls = hydra.utils.get_class(target)
    except Exception:
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, Encoder)):
        raise ConfigError(f"model.encoder._target_={target!r} is not an encoder class (a "
                          "subclass of graphrec.models.encoders.Encoder); pick one with "
                          "model/encoder=sage (or gat, hgt, gcn, mlp, identity)")
    try:
        return cls(metadata, node_specs, **spec)
    except TypeError as e:
        raise ConfigError(f"model.encoder ({target}): {e}") from None
