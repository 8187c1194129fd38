"""Hydra callbacks: a sweep ends with its mean ± std table, no hand work.

Also the ``graphrec.wandb_group`` resolver, which puts every run of one multirun into one W&B
group (named after the sweep folder), so a sweep's seeds and settings sit together in the UI.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from graphrec.utils.aggregate import aggregate
from graphrec.utils.loggers import wandb_mode


def wandb_group(name: str) -> str:
    """``<name>-<sweep folder>`` inside a multirun, ``name`` otherwise.

    The sweep folder (a timestamp by default) is shared by all of the sweep's jobs and differs
    between sweeps, so one sweep is one group and two sweeps never mix.
    """
    try:
        hc = HydraConfig.get()
    except ValueError:  # composed without Hydra's app (tests, notebooks): no sweep
        return name
    if hc.mode == RunMode.MULTIRUN:
        return sweep_group(name, hc.sweep.dir)
    return name


def sweep_group(name: str, sweep_dir) -> str:
    return f"{name}-{Path(sweep_dir).name}"


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("graphrec.wandb_group"):
        OmegaConf.register_new_resolver("graphrec.wandb_group", wandb_group)


register_resolvers()


def log_aggregate_to_wandb(config: DictConfig, sweep_dir: Path, rows: list[dict]) -> None:
    """Logs the aggregate as a W&B table, in one more run of the sweep's group."""
    import wandb

    spec = config.logger.wandb
    # Only the keys used here are resolved: others (save_dir) point into the jobs' Hydra
    # runtime config, which no longer exists after them.
    opts = {k: OmegaConf.select(spec, k) for k in ("project", "mode", "tags")}
    opts["tags"] = list(opts["tags"] or [])
    # After the jobs, Hydra's own config no longer says "multirun", so the default group is
    # named here the way the jobs' resolver named it; an explicit logger.wandb.group is kept.
    raw_group = OmegaConf.to_container(spec)["group"]
    opts["group"] = sweep_group(config.task_name, sweep_dir) \
        if "graphrec.wandb_group" in str(raw_group) else OmegaConf.select(spec, "group")
    run = wandb.init(project=opts.get("project"), group=opts.get("group"), job_type="aggregate",
                     name=f"{opts.get('group')}-aggregate", dir=str(sweep_dir),
                     mode=wandb_mode(opts.get("mode", "auto")), tags=opts.get("tags"),
                     reinit="finish_previous")
    try:
        columns = ["setting", "metric", "mean", "std", "n"]
        run.log({"aggregate": wandb.Table(columns=columns,
                                          data=[[r[c] for c in columns] for r in rows])})
        # Each setting's means also as summary values, to chart sweeps against each other.
        run.summary.update({f"{r['setting']}/{r['metric']}": r["mean"] for r in rows})
    finally:
        run.finish()


class AggregateSweep(Callback):
    """After a multirun, writes ``aggregate.{md,csv,json}`` into the sweep folder and prints it.

    When the runs logged to W&B, the table is logged there too, in the sweep's group.
    """

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            table = aggregate(sweep_dir)
        except FileNotFoundError:  # every job failed: nothing to aggregate
            return
        print(f"\naggregate over seeds ({sweep_dir / 'aggregate.md'}):\n{table}", flush=True)
        if "wandb" in (config.get("logger") or {}):
            import json

            rows = json.loads((sweep_dir / "aggregate.json").read_text())
            try:
                log_aggregate_to_wandb(config, sweep_dir, rows)
            except Exception as e:  # the table is on disk already; W&B is a copy
                warnings.warn(f"could not log the aggregate table to W&B: {e}", stacklevel=2)
