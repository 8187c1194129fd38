"""Data side of the featurizers: raw ``graph[nt].text`` strings -> tensors on the node."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch_geometric.data import HeteroData

from graphrec.text.hashed import HashedBowFeaturizer
from graphrec.text.sentence import SentenceTransformerFeaturizer
from graphrec.utils.errors import ConfigError

FEATURIZERS = {"hashed_bow": HashedBowFeaturizer,
               "sentence_transformer": SentenceTransformerFeaturizer}
DEFAULT = {"kind": "hashed_bow"}


def build_featurizer(spec: Mapping | None):
    """A featurizer from its config, ``{"kind": ..., **options}`` (``None``: ``hashed_bow``)."""
    spec = dict(spec or DEFAULT)
    kind = spec.pop("kind", "hashed_bow")
    if kind not in FEATURIZERS:
        raise ConfigError(f"unknown text featurizer {kind!r}; choose one of {sorted(FEATURIZERS)}"
                          " (data.text.<node_type>.kind)")
    try:
        return FEATURIZERS[kind](**spec)
    except TypeError as e:
        raise ConfigError(f"text featurizer {kind}: {e}") from None


def featurize_graph(graph: HeteroData, specs: Mapping[str, Mapping] | None = None) -> HeteroData:
    """Replaces every node type's raw ``text`` by its featurizer's tensors, in place.

    Args:
        graph: a graph whose text node types hold ``text`` (a list of ``num_nodes`` strings).
        specs: node type -> featurizer config; types with text but no entry get ``hashed_bow``.
    """
    specs = dict(specs or {})
    with_text = [nt for nt in graph.node_types if "text" in graph[nt]]
    unknown = sorted(set(specs) - set(with_text))
    if unknown:
        raise ConfigError(
            f"data.text configures featurizers for {unknown}, but those node types carry no raw "
            f"text (node types with text: {with_text}); remove those entries")
    for nt in with_text:
        store = graph[nt]
        texts = list(store.pop("text"))
        if len(texts) != store.num_nodes:
            raise ValueError(f"'{nt}'.text has {len(texts)} strings for {store.num_nodes} nodes")
        for key, value in build_featurizer(specs.get(nt))(texts).items():
            store[key] = value
    for store in graph.node_stores:
        # Bucket ids below 2^31 fit 32 bits: half the memory of the largest tensor of a
        # million-user graph (4M posts x 19 ids). Fingerprints hash ids as int64, unchanged.
        tokens = store.get("tokens")
        if tokens is not None and tokens.dtype == torch.int64 and \
                int(store.get("num_buckets", 2**31)) <= 2**31:
            store["tokens"] = tokens.to(torch.int32)
    return graph
