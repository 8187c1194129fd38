"""Experiment loggers from plain config: W&B (offline unless a key exists) and CSV."""

from __future__ import annotations

import netrc
import os
from collections.abc import Mapping
from pathlib import Path

from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger

LOGGERS = ("wandb", "csv")


def wandb_mode(mode: str = "auto") -> str:
    """``online`` only when credentials exist, so a run never waits on a network it lacks.

    ``WANDB_MODE`` in the environment wins; ``auto`` looks for ``WANDB_API_KEY`` or a
    ``wandb login`` entry in ``~/.netrc``.
    """
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    if mode != "auto":
        return mode
    if os.environ.get("WANDB_API_KEY"):
        return "online"
    try:
        rc = netrc.netrc(os.environ.get("NETRC", Path.home() / ".netrc"))
        host = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai").split("//")[-1]
        if rc.authenticators(host):
            return "online"
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        pass
    return "offline"


def build_loggers(cfg: Mapping | None, run_name: str | None = None) -> list[Logger]:
    """Loggers named in ``cfg`` (``{"wandb": {...}, "csv": {...}}``); ``None``: none."""
    loggers: list[Logger] = []
    for name, opts in (cfg or {}).items():
        opts = dict(opts or {})
        if name == "wandb":
            mode = wandb_mode(opts.pop("mode", "auto"))
            Path(opts["save_dir"]).mkdir(parents=True, exist_ok=True)
            loggers.append(WandbLogger(name=run_name, mode=mode, **opts))
        elif name == "csv":
            loggers.append(CSVLogger(name="csv", version="", **opts))
        else:
            raise ValueError(f"unknown logger '{name}'; choose from {LOGGERS} (or logger=null)")
    return loggers
