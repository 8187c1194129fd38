"""Experiment loggers from plain config: W&B (offline unless a key exists) and CSV."""

from __future__ import annotations

import netrc
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from graphrec.utils.errors import ConfigError

if TYPE_CHECKING:
    from lightning.pytorch.loggers import Logger

LOGGERS = ("wandb", "csv", None)


def wandb_mode(mode: str = "auto") -> str:
    """``online`` only when credentials exist, so a run never waits on a network it lacks.

    ``WANDB_MODE`` in the environment wins; ``auto`` looks for ``WANDB_API_KEY`` or a
    ``wandb login`` entry in ``~/.netrc`` (or ``$NETRC``).
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
    except (OSError, netrc.NetrcParseError):
        pass
    return "offline"


def build_loggers(kind: str | None, save_dir: Path, wandb: Mapping | None = None,
                  run_name: str | None = None, run_id: str | None = None) -> list[Logger]:
    """``wandb`` (W&B plus a metrics CSV), ``csv``, or ``None`` (no logger).

    ``run_id``: the W&B run to log into; an existing one is continued (W&B's resume by id).
    """
    # Imported here: Hydra loads this module (through its sweep callback) before every run,
    # and Lightning takes seconds to import.
    from lightning.pytorch.loggers import CSVLogger, WandbLogger

    if kind not in LOGGERS:
        raise ConfigError(f"logger={kind} is not a logger; choose wandb, csv or null")
    if kind is None:
        return []
    loggers: list[Logger] = [CSVLogger(save_dir, name="csv", version="")]
    if kind == "wandb":
        opts = dict(wandb or {})
        mode = wandb_mode(opts.pop("mode", "auto"))
        if run_id:
            opts.update(id=run_id, resume="allow")
        loggers.append(WandbLogger(name=run_name, save_dir=str(save_dir), mode=mode, **opts))
    return loggers
