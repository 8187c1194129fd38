"""The run's results: an atomically written ``results.json`` and a printed metric table."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_json(path: Path, obj) -> None:
    """Writes via a temporary file and a rename, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=str)
    os.replace(tmp, path)


def metric_table(val: dict[str, float], test: dict[str, float]) -> str:
    """A plain-text table: one row per ``task/metric``, columns val and test."""
    keys = sorted({k.split("/", 1)[1] for k in (*val, *test) if "/" in k})
    width = max([len(k) for k in keys] + [12])
    lines = [f"{'metric':<{width}}  {'val':>8}  {'test':>8}", "-" * (width + 20)]
    for k in keys:
        v, t = val.get(f"val/{k}"), test.get(f"test/{k}")
        fmt = lambda x: f"{x:8.4f}" if x is not None else f"{'':>8}"  # noqa: E731
        lines.append(f"{k:<{width}}  {fmt(v)}  {fmt(t)}")
    return "\n".join(lines)
