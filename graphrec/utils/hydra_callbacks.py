"""Hydra callbacks: a sweep ends with its mean ± std table, no hand work."""

from __future__ import annotations

from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from graphrec.utils.aggregate import aggregate


class AggregateSweep(Callback):
    """After a multirun, writes ``aggregate.{md,csv,json}`` into the sweep folder and prints it."""

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            table = aggregate(sweep_dir)
        except FileNotFoundError:  # every job failed: nothing to aggregate
            return
        print(f"\naggregate over seeds ({sweep_dir / 'aggregate.md'}):\n{table}", flush=True)
