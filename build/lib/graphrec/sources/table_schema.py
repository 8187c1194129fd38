"""The YAML schema of a tables source: which files hold which node types and relations.

A schema is plain data (read with ``yaml.safe_load``, so opening it never runs code). Every
key is checked here, before any table is read, so a typo fails with the key's name and the
keys that are allowed instead of being ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from graphrec.utils.errors import ConfigError, DataMissingError

ON_UNKNOWN_IDS = ("error", "drop")
NODE_KEYS = ("file", "id", "numeric", "categorical", "text", "labels", "timestamp")
EDGE_KEYS = ("file", "source", "target", "source_id", "target_id", "timestamp", "attributes",
             "symmetric", "where")
TOP_KEYS = ("name", "nodes", "edges", "on_unknown_ids")


@dataclass(frozen=True)
class LabelSpec:
    """A label column and its declared classes (class ``i`` becomes ``y == i``)."""

    column: str
    classes: tuple


@dataclass(frozen=True)
class NodeTable:
    """One node type's table: ``id`` is the raw id column, the rest become model inputs."""

    type: str
    file: str
    id: str
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    text: str | None = None
    labels: dict[str, LabelSpec] = field(default_factory=dict)
    timestamp: str | None = None


@dataclass(frozen=True)
class RowFilter:
    """Keeps the rows whose ``column`` lies in ``[min, max]`` (either bound may be open)."""

    column: str
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class EdgeTable:
    """One relation ``(source, relation, target)`` read from an edge list of raw ids."""

    relation: str
    file: str
    source: str
    target: str
    source_id: str
    target_id: str
    timestamp: str | None = None
    attributes: tuple[str, ...] = ()
    symmetric: bool = False
    where: RowFilter | None = None

    @property
    def edge_type(self) -> tuple[str, str, str]:
        return (self.source, self.relation, self.target)


@dataclass(frozen=True)
class TableSchema:
    name: str
    nodes: dict[str, NodeTable]
    edges: dict[str, EdgeTable]
    on_unknown_ids: str = "error"


def _check_keys(where: str, value, allowed: tuple[str, ...]) -> dict:
    if not isinstance(value, Mapping):
        raise ConfigError(f"schema {where}: expected a mapping of {', '.join(allowed)}, "
                          f"got {type(value).__name__}")
    unknown = sorted(set(map(str, value)) - set(allowed))
    if unknown:
        raise ConfigError(f"schema {where}: unknown key(s) {unknown}; allowed: "
                          f"{', '.join(allowed)}")
    return dict(value)


def _names(where: str, value) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not all(isinstance(v, str) for v in value):
        raise ConfigError(f"schema {where}: expected column names, got {value!r}")
    return tuple(value)


def _required(where: str, spec: dict, key: str) -> str:
    value = spec.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"schema {where}: '{key}' is required (a column or file name)")
    return value


def _labels(where: str, value) -> dict[str, LabelSpec]:
    out = {}
    for name, spec in (value or {}).items():
        spec = _check_keys(f"{where}.labels.{name}", spec, ("column", "classes"))
        classes = spec.get("classes")
        if not classes or len(set(map(str, classes))) != len(classes):
            raise ConfigError(f"schema {where}.labels.{name}: 'classes' must list the distinct "
                              "label values, e.g. classes: [low, high]")
        out[str(name)] = LabelSpec(_required(f"{where}.labels.{name}", spec, "column"),
                                   tuple(classes))
    return out


def _row_filter(where: str, value) -> RowFilter | None:
    if value is None:
        return None
    spec = _check_keys(f"{where}.where", value, ("column", "min", "max"))
    if spec.get("min") is None and spec.get("max") is None:
        raise ConfigError(f"schema {where}.where: give min and/or max")
    return RowFilter(_required(f"{where}.where", spec, "column"), spec.get("min"),
                     spec.get("max"))


def parse_schema(raw: Mapping, origin: str = "schema") -> TableSchema:
    """Checks a schema mapping and returns it as dataclasses.

    Raises:
        ConfigError: an unknown key, a missing required key, or an inconsistent relation.
    """
    raw = _check_keys(origin, raw, TOP_KEYS)
    nodes = {}
    for nt, spec in (raw.get("nodes") or {}).items():
        where = f"nodes.{nt}"
        spec = _check_keys(where, spec, NODE_KEYS)
        nodes[str(nt)] = NodeTable(
            str(nt), _required(where, spec, "file"), _required(where, spec, "id"),
            _names(f"{where}.numeric", spec.get("numeric")),
            _names(f"{where}.categorical", spec.get("categorical")), spec.get("text"),
            _labels(where, spec.get("labels")), spec.get("timestamp"))
    if not nodes:
        raise ConfigError(f"{origin}: no node tables; list at least one under 'nodes:'")
    edges = {}
    for rel, spec in (raw.get("edges") or {}).items():
        where = f"edges.{rel}"
        spec = _check_keys(where, spec, EDGE_KEYS)
        rel = str(rel)
        if rel.startswith("rev_"):
            raise ConfigError(f"schema {where}: relation names may not start with 'rev_' (the "
                              "reverse types are added automatically); rename it")
        edge = EdgeTable(
            rel, _required(where, spec, "file"), _required(where, spec, "source"),
            _required(where, spec, "target"), _required(where, spec, "source_id"),
            _required(where, spec, "target_id"), spec.get("timestamp"),
            _names(f"{where}.attributes", spec.get("attributes")),
            bool(spec.get("symmetric", False)), _row_filter(where, spec.get("where")))
        for end in (edge.source, edge.target):
            if end not in nodes:
                raise ConfigError(f"schema {where}: node type '{end}' has no node table; add it "
                                  f"under 'nodes:' (declared: {sorted(nodes)})")
        if edge.symmetric and edge.source != edge.target:
            raise ConfigError(f"schema {where}: a symmetric relation joins one node type to "
                              f"itself, got {edge.source} -> {edge.target}; set symmetric: false")
        edges[rel] = edge
    on_unknown = raw.get("on_unknown_ids", "error")
    if on_unknown not in ON_UNKNOWN_IDS:
        raise ConfigError(f"schema: on_unknown_ids={on_unknown!r}; choose one of {ON_UNKNOWN_IDS}")
    return TableSchema(str(raw.get("name") or "tables"), nodes, edges, on_unknown)


def load_schema(schema: str | Path | Mapping) -> tuple[TableSchema, Path | None]:
    """A schema from a YAML file or a mapping; also returns the file's folder (or ``None``)."""
    if isinstance(schema, Mapping):
        return parse_schema(schema), None
    path = Path(schema).expanduser()
    if not path.is_file():
        raise DataMissingError(f"tables schema {path} not found; write one (see docs/tables.md) "
                               "and pass data.source.schema=<path>")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    return parse_schema(raw or {}, str(path)), path.parent
