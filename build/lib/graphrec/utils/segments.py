"""Per-segment metrics (``split/task/metric/deg_a-b``) as one table, for W&B."""

from __future__ import annotations

from collections.abc import Mapping

SEGMENT_PREFIX = "deg_"


def segment_table(metrics: Mapping[str, float]) -> tuple[list[str], list[list]]:
    """Columns ``split, task, segment, <metrics...>`` and one row per (split, task, segment)."""
    rows: dict[tuple, dict] = {}
    for key, value in metrics.items():
        parts = key.split("/")
        if len(parts) == 4 and parts[3].startswith(SEGMENT_PREFIX):
            split, task, metric, segment = parts
            rows.setdefault((split, task, segment), {})[metric] = value
    names = sorted({m for r in rows.values() for m in r})
    data = [[*k, *(rows[k].get(m) for m in names)] for k in sorted(rows)]
    return ["split", "task", "segment", *names], data


def log_segment_tables(loggers, metrics: Mapping[str, float], key: str = "segments") -> None:
    """Logs the segment table to every logger that takes tables (W&B)."""
    columns, data = segment_table(metrics)
    if not data:
        return
    for logger in loggers:
        if hasattr(logger, "log_table"):
            logger.log_table(key=key, columns=columns, data=data)
