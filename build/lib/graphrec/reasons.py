"""Reasons a person can read for a recommended pair: what the two ends share in the graph.

Every reason is two relations that meet at one node type: one leaving the source, one
leaving the recommended target. The shared middle nodes are the reason:

* mutual friends: ``(user, friends, user)`` from both ends;
* shared skills: ``(user, has_skill, skill)`` and ``(job, requires, skill)``;
* friends who applied / liked / are in the group: ``(user, friends, user)`` and the
  target's reverse relation, e.g. ``(job, rev_applied, user)``.

So a data source with its own node types (``group``, ``tag``) gets its reasons from
configuration, not code. Intersections are exact and vectorized: the source's neighbours are
expanded and each is looked up among the target's by binary search, in chunks of pairs so
memory stays bounded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from graphrec.data.schema import as_edge_type
from graphrec.utils.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass
class CSR:
    """Deduplicated adjacency of one relation: sorted ``keys = row * num_cols + col``."""

    rowptr: Tensor  # [num_rows + 1]
    col: Tensor  # [E] sorted within each row
    keys: Tensor  # [E] sorted
    num_cols: int

    @classmethod
    def of(cls, edge_index: Tensor, num_rows: int, num_cols: int) -> CSR:
        keys = torch.unique(edge_index[0] * num_cols + edge_index[1])
        row = keys // num_cols
        rowptr = torch.zeros(num_rows + 1, dtype=torch.long)
        rowptr[1:] = torch.cumsum(torch.bincount(row, minlength=num_rows), 0)
        return cls(rowptr, keys % num_cols, keys, num_cols)

    def contains(self, row: Tensor, col: Tensor) -> Tensor:
        """Whether each ``(row, col)`` is an edge: ``[M]`` bools."""
        if not self.keys.numel():
            return torch.zeros(row.shape, dtype=torch.bool)
        q = row * self.num_cols + col
        at = torch.searchsorted(self.keys, q).clamp_(max=self.keys.numel() - 1)
        return self.keys[at] == q


def shared(left: CSR, right: CSR, src: Tensor, dst: Tensor, keep: int = 3,
           chunk: int = 65536) -> tuple[Tensor, Tensor]:
    """Middle nodes ``w`` with ``src -> w`` in ``left`` and ``dst -> w`` in ``right``.

    Args:
        left, right: the relation leaving the source and the one leaving the target.
        src, dst: ``[R]`` pair ends.
        keep: how many shared nodes to list per pair (the lowest ids).
        chunk: pairs expanded at once (memory ``chunk * mean degree``).

    Returns:
        ``(count [R], listed [R, keep])``: how many are shared, and up to ``keep`` of them
        (``-1`` padded).
    """
    count = torch.zeros(src.numel(), dtype=torch.long)
    listed = torch.full((src.numel(), keep), -1, dtype=torch.long)
    for start in range(0, src.numel(), chunk):
        s, d = src[start:start + chunk], dst[start:start + chunk]
        deg = left.rowptr[s + 1] - left.rowptr[s]
        owner = torch.repeat_interleave(torch.arange(s.numel()), deg)
        first = torch.cumsum(deg, 0) - deg
        w = left.col[left.rowptr[s][owner] + torch.arange(owner.numel()) - first[owner]]
        hit = right.contains(d[owner], w)
        owner, w = owner[hit], w[hit]
        n = torch.bincount(owner, minlength=s.numel())
        count[start:start + s.numel()] = n
        # Rank within each pair: owners are sorted, so it is the offset from the group start.
        rank = torch.arange(owner.numel()) - (torch.cumsum(n, 0) - n)[owner]
        ok = rank < keep
        listed[start + owner[ok], rank[ok]] = w[ok]
    return count, listed


@dataclass
class Reason:
    """One configured reason: ``name``, the two relations, and the words of its sentence."""

    name: str
    src: tuple[str, str, str]
    dst: tuple[str, str, str]
    text: str

    @classmethod
    def of(cls, spec: Mapping) -> Reason:
        src, dst = as_edge_type(spec["src"]), as_edge_type(spec["dst"])
        if src[2] != dst[2]:
            raise ConfigError(f"reason {spec.get('name')!r}: {src} and {dst} do not meet at one "
                              "node type; the last element of src and dst must be the same")
        return cls(spec["name"], src, dst, spec.get("text", spec["name"].replace("_", " ")))


def explain(graph, reasons: Sequence[Mapping], src: Tensor, dst: Tensor,
            raw_ids: Mapping[str, Sequence], keep: int = 3) -> dict[str, list]:
    """Columns of reasons for the pairs ``(src [R], dst [R])`` in ``graph``.

    Returns:
        Per reason ``name``: ``<name>_count`` (ints) and ``<name>`` (up to ``keep`` raw ids of
        the shared nodes, ``;``-joined); and ``reason``, one sentence per pair.
    """
    out: dict[str, list] = {}
    sentences = [[] for _ in range(src.numel())]
    for spec in reasons:
        r = Reason.of(spec)
        if r.src not in graph.edge_types or r.dst not in graph.edge_types:
            log.info("reason %s skipped: the graph has no %s", r.name,
                     r.src if r.src not in graph.edge_types else r.dst)
            continue
        mid = r.src[2]
        left = CSR.of(graph[r.src].edge_index, graph[r.src[0]].num_nodes, graph[mid].num_nodes)
        right = CSR.of(graph[r.dst].edge_index, graph[r.dst[0]].num_nodes, graph[mid].num_nodes)
        count, listed = shared(left, right, src, dst, keep)
        names = raw_ids[mid]
        ids = [[str(names[w]) for w in row if w >= 0] for row in listed.tolist()]
        out[f"{r.name}_count"] = count.tolist()
        out[r.name] = [";".join(row) for row in ids]
        for i, (c, row) in enumerate(zip(out[f"{r.name}_count"], ids)):
            if c:
                more = f" and {c - len(row)} more" if c > len(row) else ""
                sentences[i].append(f"{c} {r.text}: {', '.join(row)}{more}")
    out["reason"] = ["; ".join(s) for s in sentences]
    return out
