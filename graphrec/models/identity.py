"""``conv=identity``: no encoder layers at all, each node's own frozen input vector as it is.

For frozen sentence embeddings (``text_emb``) a projection or residual block in front of the
head only adds linear maps that compose into one: the function class stays that of the head
on the raw vector, but training gets slower to steer and overfits sooner (measured on SST-2 and
UMSAB validation cross-entropy; see the README). With this encoder the head alone learns.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from graphrec.utils.errors import ConfigError


class RawInput(nn.Module):
    """A node store's frozen input vector: ``text_emb`` (frozen text) or ``x`` (features)."""

    def __init__(self, key: str):
        super().__init__()
        self.key = key

    def forward(self, store: Mapping, n_id: torch.Tensor | None = None) -> torch.Tensor:
        return store[self.key]


def raw_input(node_type: str, spec: Mapping, width: int) -> RawInput:
    """The :class:`RawInput` of one node type, checked against the encoder's output width."""
    text = spec.get("text") or {}
    if text.get("kind") == "frozen":
        key, dim = "text_emb", int(text["dim"])
    elif spec.get("x_dim"):
        key, dim = "x", int(spec["x_dim"])
    else:
        raise ConfigError(
            f"model.encoder.conv=identity passes each node's own fixed vector to the heads, but "
            f"'{node_type}' nodes have none (no frozen text embedding, no features x); use "
            "conv=mlp, or a frozen text featurizer (featurizer=minilm)")
    if dim != width:
        raise ConfigError(
            f"model.encoder.conv=identity: '{node_type}' vectors ({key}) are {dim}-d but "
            f"model.encoder.out_channels={width}; set model.encoder.out_channels={dim}")
    return RawInput(key)
