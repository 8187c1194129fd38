"""Encoders: node inputs -> ``z_dict``, one class per family, chosen by ``_target_`` in
``configs/model/encoder/*.yaml``. A new family is one file with an :class:`Encoder` subclass
plus one YAML naming it (docs/design.md shows a toy one)."""

from graphrec.models.encoders.base import Encoder, NodeInput, build_encoder
from graphrec.models.encoders.gcn import GCNEncoder
from graphrec.models.encoders.identity import IdentityEncoder
from graphrec.models.encoders.message_passing import (
    GATEncoder,
    HGTEncoder,
    MessagePassingEncoder,
    SAGEEncoder,
)
from graphrec.models.encoders.mlp import MLPEncoder

__all__ = ["Encoder", "NodeInput", "build_encoder", "MessagePassingEncoder", "SAGEEncoder",
           "GATEncoder", "HGTEncoder", "MLPEncoder", "GCNEncoder", "IdentityEncoder"]
