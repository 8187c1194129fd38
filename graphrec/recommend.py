"""Recommendations out: top-K lists with raw ids, scores and reasons, from a checkpoint alone.

``recommend(cfg)`` is pure (tests call it); the command line is
:func:`graphrec.cli.recommend_main` (``python scripts/recommend.py ckpt_path=... task=friend
k=20 users=all out=recs.parquet``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import torch
from omegaconf import DictConfig, OmegaConf

from graphrec.candidates import embed, known_pairs, top_k
from graphrec.metrics.beyond import beyond_accuracy
from graphrec.new_nodes import add_nodes, grow_id_tables, raw_id_lists, read_table
from graphrec.reasons import explain
from graphrec.runtime import rebuild_from_checkpoint
from graphrec.tasks.link_eval import CATEGORY_KEYS
from graphrec.utils.errors import ConfigError
from graphrec.utils.results import write_json

GRAPHS = ("full", "test", "train")


def _graph(datamodule, which: str):
    if which not in GRAPHS:
        raise ConfigError(f"graph={which}; choose one of {GRAPHS}")
    return datamodule.graph if which == "full" else datamodule.batches[which]["graph"]


def _queries(users, raw: list) -> torch.Tensor:
    """Node ids of ``users`` (``all`` or raw ids, matched as text so 17 and "17" agree)."""
    if users is None or users == "all":
        return torch.arange(len(raw))
    users = [users] if isinstance(users, (str, int)) else list(users)
    index = {str(r): i for i, r in enumerate(raw)}
    missing = [u for u in users if str(u) not in index]
    if missing:
        raise ConfigError(f"users {missing[:5]} are not in the graph; give raw ids it has (e.g. "
                          f"{raw[0]!r}), users=all, or add them with new_users=<table>")
    return torch.tensor([index[str(u)] for u in users], dtype=torch.long)


def recommend_frame(module, task_name: str, graph, raw: Mapping[str, list], queries, k: int,
                    *, datamodule=None, keep_known=False, keep_self=False, index="exact",
                    ann=None, chunk=1024, reasons=(), listed=3):
    """Top-``k`` of ``task_name`` for ``queries [Q]`` as a frame, plus the lists themselves.

    Returns:
        ``(frame, top [Q, k], z)``: one row per (source, rank) with ``source, rank, target,
        score`` (raw ids) and the reason columns; the candidate ids; the embeddings.
    """
    task = module.tasks[task_name]
    et = task.edge_type
    z = embed(module, graph, datamodule)
    exclude = None
    if not keep_known:
        exclude = known_pairs(graph, et, queries, keep_self)
    elif et[0] == et[2] and not keep_self:
        exclude = torch.stack([torch.arange(queries.numel()), queries])
    scores, top = top_k(module, task_name, z, graph, queries, k, exclude, chunk, index,
                        dict(ann or {}))
    filled = top >= 0
    src = queries[:, None].expand_as(top)[filled]
    dst = top[filled]
    rank = torch.arange(1, top.size(1) + 1).expand_as(top)[filled]
    cols = {"source": [raw[et[0]][i] for i in src.tolist()], "rank": rank.tolist(),
            "target": [raw[et[2]][i] for i in dst.tolist()],
            "score": scores[filled].double().tolist()}
    cols.update(explain(graph, reasons, src, dst, raw, listed) if reasons else {})
    return pd.DataFrame(cols), top, z


def write_frame(frame: pd.DataFrame, path: Path) -> Path:
    """Parquet or CSV by suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        raise ConfigError(f"out={path}: give a .parquet or .csv file")
    return path


def list_metrics(top, graph, edge_type, k, z) -> dict[str, float]:
    """Beyond-accuracy metrics of recommend's own lists (popularity in the graph scored on)."""
    n_items = graph[edge_type[2]].num_nodes
    popularity = torch.bincount(graph[edge_type].edge_index[1], minlength=n_items)
    store = graph[edge_type[2]]
    categories = next((store[c] for c in CATEGORY_KEYS if c in store), None)
    emb = z[edge_type[2]] if z is not None and categories is None else None
    return beyond_accuracy(top, n_items, popularity, graph[edge_type[0]].num_nodes,
                           ks=[top.size(1)], categories=categories, emb=emb)


def chosen_task(cfg: DictConfig) -> str:
    """The task to recommend for: ``task_key``, else the one task chosen with ``task=``."""
    if cfg.get("task_key"):
        return str(cfg.task_key)
    chosen = list(cfg.get("task") or {})
    if len(chosen) != 1:
        raise ConfigError(f"recommend for one task at a time, got task={chosen}; e.g. task=friend")
    return chosen[0]


def recommend(cfg: DictConfig) -> dict:
    """Writes ``cfg.out`` and returns ``{"out", "rows", "seconds", "metrics"}`` (also in
    ``<output_dir>/results.json``)."""
    start = time.perf_counter()
    ckpt, datamodule, module = rebuild_from_checkpoint(cfg.ckpt_path,
                                                       cfg.get("trusted_targets") or ())
    name = chosen_task(cfg)
    link_tasks = [n for n, t in module.tasks.items() if getattr(t, "kind", None) == "link"]
    if name not in link_tasks:
        raise ConfigError(f"task={name} is not a link task of this checkpoint; choose one "
                          f"of {link_tasks}")
    et = module.tasks[name].edge_type
    graph = _graph(datamodule, cfg.get("graph", "full"))
    raw = raw_id_lists(graph, ckpt["graphrec"].get("raw_ids"))
    if cfg.get("new_users"):
        edges = read_table(cfg.new_edges) if cfg.get("new_edges") else None
        graph, raw, _ = add_nodes(graph, raw, et[0], read_table(cfg.new_users), edges)
        grow_id_tables(module, et[0], graph[et[0]].num_nodes)
    queries = _queries(OmegaConf.to_container(cfg.users) if OmegaConf.is_config(cfg.users)
                       else cfg.users, raw[et[0]])
    reasons = OmegaConf.to_container(cfg.reasons, resolve=True).get(name, []) \
        if cfg.get("reasons") else []
    frame, top, z = recommend_frame(
        module, name, graph, raw, queries, int(cfg.k), datamodule=datamodule,
        keep_known=cfg.keep_known, keep_self=cfg.keep_self, index=cfg.index,
        ann=OmegaConf.to_container(cfg.ann) if cfg.get("ann") else None, chunk=cfg.chunk,
        reasons=reasons, listed=cfg.listed)
    out_dir = Path(cfg.paths.output_dir)
    out = Path(cfg.out) if Path(cfg.out).is_absolute() else out_dir / cfg.out
    write_frame(frame, out)
    metrics = {f"recommend/{name}/{k}": v
               for k, v in list_metrics(top, graph, et, int(top.size(1)), z).items()}
    results = {"out": str(out), "rows": len(frame), "users": int(queries.numel()),
               "seconds": time.perf_counter() - start, "metrics": metrics,
               "ckpt": str(cfg.ckpt_path)}
    write_json(out_dir / "results.json", results)
    for key, value in metrics.items():
        print(f"{key:<36} {value:10.4f}", flush=True)
    print(f"{len(frame)} rows for {queries.numel()} users: {out}", flush=True)
    return results

