"""Aggregates a sweep's run folders into mean ± std tables per swept setting.

Each run folder holds ``results.json`` and Hydra's ``.hydra/overrides.yaml``; runs that differ
only in ``seed`` form one group. Std is the unbiased (n - 1) estimate, as papers report it.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from pathlib import Path

import yaml

from graphrec.utils.results import write_json


def _setting(run: Path) -> str:
    path = run / ".hydra" / "overrides.yaml"
    overrides = yaml.safe_load(path.read_text()) if path.is_file() else []
    kept = [o for o in overrides or [] if not o.split("=", 1)[0].lstrip("+~").endswith("seed")]
    return " ".join(sorted(kept)) or "(default)"


def collect(sweep_dir: Path) -> dict[str, list[dict]]:
    """``setting -> [metrics of each run]`` from every ``results.json`` under ``sweep_dir``."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for results in sorted(Path(sweep_dir).rglob("results.json")):
        if results.parent == Path(sweep_dir):
            continue
        data = json.loads(results.read_text())
        groups[_setting(results.parent)].append({**data.get("val", {}), **data.get("test", {})})
    return dict(groups)


def summarize(groups: dict[str, list[dict]]) -> list[dict]:
    """One row per (setting, metric): mean, unbiased std and n."""
    rows = []
    for setting, runs in groups.items():
        for key in sorted({k for r in runs for k in r}):
            values = [r[key] for r in runs if key in r]
            mean = sum(values) / len(values)
            var = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 \
                else float("nan")
            rows.append({"setting": setting, "metric": key, "mean": mean,
                         "std": math.sqrt(var), "n": len(values)})
    return rows


def to_markdown(rows: list[dict], metrics: tuple[str, ...] | None = None) -> str:
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    keys = metrics or tuple(dict.fromkeys(r["metric"] for r in rows))
    cell = {(r["setting"], r["metric"]): r for r in rows}
    lines = ["| setting | n | " + " | ".join(keys) + " |", "|---" * (len(keys) + 2) + "|"]
    for s in settings:
        n = max((cell[(s, k)]["n"] for k in keys if (s, k) in cell), default=0)
        vals = [f"{cell[(s, k)]['mean']:.4f} ± {cell[(s, k)]['std']:.4f}" if (s, k) in cell
                else "" for k in keys]
        lines.append(f"| {s} | {n} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def aggregate(sweep_dir: Path, metrics: tuple[str, ...] | None = None) -> str:
    """Writes ``aggregate.md``, ``aggregate.csv`` and ``aggregate.json`` into ``sweep_dir``."""
    sweep_dir = Path(sweep_dir)
    groups = collect(sweep_dir)
    if not groups:
        raise FileNotFoundError(f"no run folder with results.json under {sweep_dir}")
    rows = summarize(groups)
    table = to_markdown(rows, metrics)
    (sweep_dir / "aggregate.md").write_text(table + "\n")
    with open(sweep_dir / "aggregate.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["setting", "metric", "mean", "std", "n"])
        writer.writeheader()
        writer.writerows(rows)
    write_json(sweep_dir / "aggregate.json", rows)
    return table
