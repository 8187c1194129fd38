"""Experiment loggers from the ``logger`` config group: CSV, and W&B offline unless a key exists."""

from __future__ import annotations

import netrc
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from graphrec.utils.errors import ConfigError

if TYPE_CHECKING:
    from lightning.pytorch.loggers import Logger

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


def wandb_logger(save_dir: str, mode: str = "auto", **opts) -> Logger:
    """Lightning's ``WandbLogger`` with ``mode: auto`` (see :func:`wandb_mode`).

    ``id``: the W&B run to log into; an existing one is continued (W&B's resume by id).
    """
    from lightning.pytorch.loggers import WandbLogger

    if opts.get("id"):
        opts.setdefault("resume", "allow")
    return WandbLogger(save_dir=str(save_dir), mode=wandb_mode(mode), **opts)


def build_loggers(specs: Mapping | None, run_name: str | None = None,
                  run_id: str | None = None) -> list[Logger]:
    """Every ``logger.<name>`` with a ``_target_`` (configs/logger/), built in order.

    ``run_name`` and ``run_id`` go to the W&B logger (``logger.wandb``): the run is named
    after its folder, and a resumed run continues its W&B run.
    """
    # Imported here: Hydra loads this module (through its sweep callback) before every run,
    # and Lightning takes seconds to import.
    import hydra

    from graphrec.runtime import first_line

    out = []
    for name, spec in (specs or {}).items():
        if not isinstance(spec, Mapping) or "_target_" not in spec:
            raise ConfigError(f"logger.{name} has no _target_; give it one (see configs/logger/)")
        extra = {}
        if name == "wandb":
            extra = {k: v for k, v in (("name", run_name), ("id", run_id)) if v is not None}
        try:
            out.append(hydra.utils.instantiate(spec, **extra))
        except Exception as e:  # a class that is not there, or bad arguments
            cause = e.__cause__ or e
            raise ConfigError(f"logger.{name}: {first_line(cause)}") from None
    return out
