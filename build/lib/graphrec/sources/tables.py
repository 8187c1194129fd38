"""A graph from user tables: node and edge tables (CSV or Parquet) described by one schema.

The schema (:mod:`graphrec.sources.table_schema`, reference in docs/tables.md) names each
node type's table and id column, its numeric, categorical, text, label and time columns, and
each relation's edge list of raw ids. Every table is checked before it becomes tensors
(:mod:`graphrec.sources.table_io`); nothing is dropped unless the schema asks for it
(``on_unknown_ids: drop``), and then the count is logged.

The graph keeps the raw ids: ``graph[node_type].raw_id`` is a list whose item ``i`` is the id
of node ``i`` as written in its table (int or str).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import HeteroData

from graphrec.sources.prepare import prepared_root
from graphrec.sources.table_io import (
    Table,
    id_column,
    numeric_column,
    read_table,
    require_columns,
    timestamp_column,
)
from graphrec.sources.table_schema import EdgeTable, NodeTable, load_schema
from graphrec.utils.errors import ConfigError

log = logging.getLogger(__name__)


class _NodeIndex:
    """Raw id -> node index of one node type, matching ids of another type through ``str``
    (a CSV may hold ``7`` where the node table, written elsewhere, holds ``"7"``)."""

    def __init__(self, ids: list, path: Path):
        self.path = path
        self.by_id = {v: i for i, v in enumerate(ids)}
        self.kind = type(ids[0])
        self.by_str = None

    def lookup(self, ids: list) -> np.ndarray:
        if ids and type(ids[0]) is not self.kind:
            if self.by_str is None:
                self.by_str = {str(k): i for k, i in self.by_id.items()}
            return np.array([self.by_str.get(str(v), -1) for v in ids], dtype=np.int64)
        return np.array([self.by_id.get(v, -1) for v in ids], dtype=np.int64)


class TablesSource:
    """Builds a ``HeteroData`` from the tables a schema lists.

    Args:
        schema: path of the schema YAML, or the schema itself as a mapping (a data config can
            hold it inline).
        root: folder that relative ``file:`` paths start from; defaults to the schema file's
            folder, or to the converter's cache folder when ``prepare`` is given.
        labels: node type -> name of the declared label that becomes ``y`` (the node task's
            target); a node type with labels but no entry uses its first one.
        prepare: a converter (:mod:`graphrec.sources.prepare`) that writes the tables from a
            raw dump, once, into ``cache_dir``.
        cache_dir: where ``prepare`` writes; ``None``: ``~/.cache/graphrec/tables``.
    """

    def __init__(self, schema: str | Mapping | None, root: str | None = None,
                 labels: Mapping[str, str] | None = None, prepare=None,
                 cache_dir: str | None = None):
        if schema is None:
            raise ConfigError("data=tables needs a schema: pass data.source.schema=<schema.yaml> "
                              "(reference: docs/tables.md)")
        self.schema, self._schema_dir = load_schema(schema)
        self.name = self.schema.name
        self.root, self.prepare, self.cache_dir = root, prepare, cache_dir
        self.labels = dict(labels or {})
        for nt, label in self.labels.items():
            declared = self.schema.nodes[nt].labels if nt in self.schema.nodes else {}
            if label not in declared:
                raise ConfigError(f"data.source.labels.{nt}={label!r}, but the schema declares "
                                  f"no such label for '{nt}' (declared: {sorted(declared)})")

    @property
    def edge_symmetry(self) -> dict[tuple[str, str, str], bool]:
        """Forward edge type -> whether the schema declares it symmetric."""
        return {e.edge_type: e.symmetric for e in self.schema.edges.values()}

    def _root(self) -> Path:
        if self.root:
            return Path(self.root).expanduser()
        if self.prepare is not None:
            return prepared_root(self.prepare, self.cache_dir, self.name)
        if self._schema_dir is not None:
            return self._schema_dir
        raise ConfigError(f"tables '{self.name}': the schema is given inline, so set "
                          "data.source.root to the folder holding its files")

    def __call__(self) -> HeteroData:
        root = self._root()
        tables: dict[Path, Table] = {}

        def table(file: str, what: str) -> Table:
            path = root / file
            if path not in tables:  # one file may hold several relations (e.g. by rating)
                tables[path] = read_table(path, what)
            return tables[path]

        data = HeteroData()
        index = {}
        for nt, spec in self.schema.nodes.items():
            index[nt] = self._nodes(data, spec, table(spec.file, f"node table '{nt}'"))
        for rel, spec in self.schema.edges.items():
            self._edges(data, spec, table(spec.file, f"edge table '{rel}'"), index)
        return data

    def _nodes(self, data: HeteroData, spec: NodeTable, t: Table) -> _NodeIndex:
        labels = {name: lab.column for name, lab in spec.labels.items()}
        require_columns(t, [spec.id, *spec.numeric, *spec.categorical, spec.text,
                            *labels.values(), spec.timestamp], f"node type '{spec.type}'")
        ids = id_column(t, spec.id)
        dup = pd.Series(ids).duplicated(keep=False).to_numpy()
        if dup.any():
            raise t.fail(spec.id, f"duplicate node ids in {t.where_values(dup, spec.id)}",
                         "each node must appear once")
        store = data[spec.type]
        store.num_nodes = len(ids)
        store.raw_id = ids
        parts = [_standardize(numeric_column(t, c)) for c in spec.numeric]
        parts += [_one_hot(t, c) for c in spec.categorical]
        if parts:
            store.x = torch.from_numpy(np.concatenate(parts, axis=1)).float()
        if spec.text:
            # An empty cell is an empty text: the text still counts as given (no features).
            store.text = ["" if pd.isna(v) else str(v) for v in t.frame[spec.text]]
        if spec.labels:
            chosen = self.labels.get(spec.type, next(iter(spec.labels)))
            for name, lab in spec.labels.items():
                y = _label(t, lab.column, lab.classes)
                if name == chosen:
                    store.y = y
        if spec.timestamp:
            store.time = torch.from_numpy(timestamp_column(t, spec.timestamp))
        return _NodeIndex(ids, t.path)

    def _edges(self, data: HeteroData, spec: EdgeTable, t: Table,
               index: dict[str, _NodeIndex]) -> None:
        require_columns(t, [spec.source_id, spec.target_id, spec.timestamp, *spec.attributes,
                            spec.where.column if spec.where else None],
                        f"relation '{spec.relation}'")
        keep = np.ones(len(t), dtype=bool)
        if spec.where is not None:
            value = numeric_column(t, spec.where.column)
            if spec.where.min is not None:
                keep &= value >= spec.where.min
            if spec.where.max is not None:
                keep &= value <= spec.where.max
            if not keep.any():
                raise t.fail(spec.where.column, f"no row lies in the 'where' range of relation "
                             f"'{spec.relation}'", "widen min/max or fix the column")
        ends = []
        for col, nt in ((spec.source_id, spec.source), (spec.target_id, spec.target)):
            pos = index[nt].lookup(id_column(t, col))
            unknown = (pos < 0) & keep
            if unknown.any():
                if self.schema.on_unknown_ids == "error":
                    raise t.fail(col, f"ids not in the '{nt}' node table ({index[nt].path.name}) "
                                 f"in {t.where_values(unknown, col)}", "add them to that table, "
                                 "or set on_unknown_ids: drop in the schema to drop those edges")
                log.warning("%s: dropped %d edge(s) of relation '%s' whose '%s' id is not in "
                            "the '%s' node table (on_unknown_ids: drop)", t.path,
                            int(unknown.sum()), spec.relation, col, nt)
                keep &= ~unknown
            ends.append(pos)
        if not keep.any():
            raise ConfigError(f"{t.path}: relation '{spec.relation}' has no edge left after "
                              "dropping unknown ids; check the id columns")
        src, dst = ends[0][keep], ends[1][keep]
        extras = {}
        if spec.timestamp:
            extras["edge_time"] = torch.from_numpy(timestamp_column(t, spec.timestamp)[keep])
        if spec.attributes:
            attr = np.stack([numeric_column(t, c)[keep] for c in spec.attributes], axis=1)
            extras["edge_attr"] = torch.from_numpy(attr).float()
        a, b = (np.minimum(src, dst), np.maximum(src, dst)) if spec.symmetric else (src, dst)
        first = ~pd.DataFrame({"a": a, "b": b}).duplicated().to_numpy()
        if not first.all():
            # The splitter treats each stored entry as one edge; repeated pairs would weigh
            # double in message passing, so one row per pair is kept (the first).
            log.warning("%s: relation '%s' lists %d pair(s) more than once; kept the first row "
                        "of each", t.path, spec.relation, int((~first).sum()))
        ei = torch.from_numpy(np.stack([src[first], dst[first]])).long()
        extras = {k: v[torch.from_numpy(first)] for k, v in extras.items()}
        fwd = data[spec.edge_type]
        if spec.symmetric:  # both directions under one type; a self loop once
            other = ei[0] != ei[1]
            fwd.edge_index = torch.cat([ei, ei.flip(0)[:, other]], dim=1)
            for k, v in extras.items():
                fwd[k] = torch.cat([v, v[other]])
            return
        fwd.edge_index = ei
        rev = data[spec.target, f"rev_{spec.relation}", spec.source]
        rev.edge_index = ei.flip(0)
        for k, v in extras.items():
            fwd[k], rev[k] = v, v.clone()


def _standardize(values: np.ndarray) -> np.ndarray:
    """``[N, 1]`` z-scores, so columns of very different scales (counts, money) start equal."""
    std = values.std()
    return ((values - values.mean()) / (std if std > 0 else 1.0))[:, None]


def _one_hot(t: Table, column: str) -> np.ndarray:
    raw = t.frame[column]
    missing = raw.isna().to_numpy()
    if missing.any():
        raise t.fail(column, f"empty categorical cells in {t.where(missing)}",
                     "fill them (e.g. with 'unknown')")
    codes, _ = pd.factorize(raw.astype(str), sort=True)
    out = np.zeros((len(codes), int(codes.max()) + 1), dtype=np.float32)
    out[np.arange(len(codes)), codes] = 1.0
    return out


def _label(t: Table, column: str, classes: tuple) -> torch.Tensor:
    """``[N]`` class index per row; ``-1`` (not labelled) for an empty cell."""
    lookup = {str(c): i for i, c in enumerate(classes)}
    raw = t.frame[column]
    empty = raw.isna().to_numpy()
    as_str = [_label_str(v) for v in raw.to_numpy()]
    y = np.array([-1 if e else lookup.get(s, -2) for s, e in zip(as_str, empty)], dtype=np.int64)
    bad = y == -2
    if bad.any():
        raise t.fail(column, f"labels outside the declared classes {list(classes)} in "
                     f"{t.where_values(bad, column)}", "fix those cells or add the class to "
                     "'classes' in the schema")
    return torch.from_numpy(y)


def _label_str(value) -> str:
    # CSV readers turn a column of 0/1 with empty cells into floats (1.0): compare as ints.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
