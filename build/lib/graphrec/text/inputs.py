"""Model side of the featurizers: the spec of a node's text tensors and the module reading them."""

from __future__ import annotations

from collections.abc import Mapping

from torch import nn

from graphrec.text.hashed import HashedBowInput
from graphrec.text.sentence import FrozenEmbeddingInput


def text_input_spec(store: Mapping) -> dict | None:
    """What the model needs to know about a node store's text tensors (plain values, saved in
    checkpoints), or ``None`` when the node has no text."""
    if "tokens" in store:
        spec = {"kind": "hashed_bow", "num_buckets": int(store["num_buckets"])}
        if store.get("sparse_grad", False):
            spec["sparse"] = True
        if store.get("init", "normal") != "normal":
            spec["init"] = store["init"]
        return spec
    if "text_emb" in store:
        return {"kind": "frozen", "dim": int(store["text_emb"].size(1))}
    return None


def build_text_input(spec: Mapping, hidden: int) -> nn.Module:
    """``store -> [N, hidden]`` for a :func:`text_input_spec`."""
    kind = spec.get("kind")
    if kind == "hashed_bow":
        return HashedBowInput(int(spec["num_buckets"]), hidden, bool(spec.get("sparse", False)),
                              spec.get("init", "normal"))
    if kind == "frozen":
        return FrozenEmbeddingInput(int(spec["dim"]), hidden)
    raise ValueError(f"unknown text input kind {kind!r}; known: hashed_bow, frozen")
