"""Continuing a killed run: in its own folder, its own W&B run, with the state it stopped in.

``python scripts/train.py resume=<run folder>`` reads the run's ``.hydra/overrides.yaml``,
recomposes the same config, writes into the same folder and continues from
``checkpoints/last.ckpt``. Lightning restores the weights, optimizer, epoch, global step and
the callbacks' state (ModelCheckpoint's best score and path, early stopping's wait count);
:class:`graphrec.utils.callbacks.RNGStates` adds what it does not: the random generators that
draw each epoch's fresh training negatives and supervision pairs, so the resumed run ends
where the uninterrupted one would have, bit for bit on CPU.

A checkpoint is continued only under the config and data it was trained with
(:func:`check_same_config`, :func:`check_same_data`): a different task list, seed or data file
is refused in one line.
Plain Python only: the entry point resolves ``resume=`` before torch is imported.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from pathlib import Path

from graphrec.utils.errors import ConfigError, DataMissingError

LAST_CKPT = Path("checkpoints") / "last.ckpt"
OVERRIDES = Path(".hydra") / "overrides.yaml"
# The W&B run id of the run folder: a resumed run logs into the same W&B run.
WANDB_ID_FILE = "wandb_run_id"
# Config keys that may differ between the checkpoint's run and now: where files go and which
# checkpoint is read, never what is trained.
_FREE_KEYS = ("ckpt_path", "resume", "paths", "hydra")


def resume_argv(args: list[str]) -> list[str]:
    """The command-line overrides that resume a run, given ``[..., "resume=<run>", ...]``.

    The run's own overrides come first, then the other arguments given now (which may change
    nothing :func:`check_same_config` compares), then the run folder as Hydra's output folder.
    Returns ``args`` unchanged when no ``resume=`` is among them.

    Raises:
        DataMissingError: the folder, its overrides file or its last checkpoint is missing.
    """
    given = [a for a in args if a.startswith("resume=")]
    if not given:
        return args
    run = Path(given[-1].split("=", 1)[1]).expanduser()
    fix = "pass resume=<run folder> of a run started by scripts/train.py"
    for need in (run, run / OVERRIDES):
        if not need.exists():
            what = "folder" if need == run else str(need.relative_to(run))
            raise DataMissingError(f"resume={run}: {what} does not exist; {fix}")
    if not (run / LAST_CKPT).exists():
        raise DataMissingError(f"resume={run}: {LAST_CKPT} does not exist (the run stopped "
                               "before its first validation); start it again instead")
    import yaml

    stored = yaml.safe_load((run / OVERRIDES).read_text()) or []
    if not isinstance(stored, list):
        raise ConfigError(f"resume={run}: {OVERRIDES} is not a list of overrides; {fix}")
    keep = [str(o) for o in stored if not str(o).startswith(("resume=", "ckpt_path="))]
    now = [a for a in args if not a.startswith("resume=")]
    return [*keep, *now, f"hydra.run.dir={run.resolve()}", f"resume={run.resolve()}"]


def resume_checkpoint(cfg) -> str | None:
    """The checkpoint that training continues from: the run's last one under ``resume``."""
    if cfg.get("resume"):
        run = Path(cfg.resume).resolve()
        if cfg.get("ckpt_path"):
            raise ConfigError(f"resume={run} and ckpt_path={cfg.ckpt_path}: pass one of them")
        if Path(cfg.paths.output_dir).resolve() != run:
            raise ConfigError(f"resume={run} but paths.output_dir={cfg.paths.output_dir}: a run "
                              "resumes in its own folder; run scripts/train.py resume=<run>")
        return str(run / LAST_CKPT)
    return cfg.get("ckpt_path")


def wandb_run_id(out_dir: Path, resuming: bool) -> str:
    """The W&B run id of ``out_dir``: the stored one when resuming, else a new one (stored)."""
    path = Path(out_dir) / WANDB_ID_FILE
    if resuming and path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    # W&B's own id format (8 lowercase letters and digits); wandb keeps its generator private.
    alphabet = string.ascii_lowercase + string.digits
    run_id = "".join(secrets.choice(alphabet) for _ in range(8))
    path.write_text(run_id + "\n")
    return run_id


def _flat(node, prefix: str = "") -> dict[str, object]:
    if isinstance(node, Mapping) and node:
        out = {}
        for key, value in node.items():
            out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: node}


def _unresolve_paths(node, paths: Mapping):
    """``node`` with each folder of ``paths`` written back as ``${paths.<key>}``.

    Resolved configs spell the run folder out in other keys too (the checkpoint folder, the
    trainer's root): those follow the folder and are not a different config.
    """
    folders = sorted(((str(v), k) for k, v in (paths or {}).items() if isinstance(v, str) and v),
                     key=lambda kv: -len(kv[0]))
    if isinstance(node, Mapping):
        return {k: _unresolve_paths(v, paths) for k, v in node.items()}
    if isinstance(node, list):
        return [_unresolve_paths(v, paths) for v in node]
    if isinstance(node, str):
        for folder, key in folders:
            if node == folder or node.startswith(folder.rstrip("/") + "/"):
                return f"${{paths.{key}}}{node[len(folder):]}"
    return node


def config_differences(stored: Mapping, now: Mapping) -> list[str]:
    """``key: stored -> now`` for each config value that differs (task lists as one entry).

    ``paths``, ``ckpt_path`` and ``resume`` may differ, and so may values under the run's
    folders (see :func:`_unresolve_paths`).
    """
    stored = {k: v for k, v in _unresolve_paths(stored, stored.get("paths")).items()
              if k not in _FREE_KEYS}
    now = {k: v for k, v in _unresolve_paths(now, now.get("paths")).items()
           if k not in _FREE_KEYS}
    diffs = []
    st, nt = stored.pop("task", None) or {}, now.pop("task", None) or {}
    if list(st) != list(nt):
        diffs.append(f"task=[{','.join(st)}] -> task=[{','.join(nt)}]")
    else:
        stored["task"], now["task"] = st, nt
    a, b = _flat(stored), _flat(now)
    missing = object()
    for key in sorted(set(a) | set(b)):
        old, new = a.get(key, missing), b.get(key, missing)
        if old != new:
            show = lambda v: "(absent)" if v is missing else v  # noqa: E731
            diffs.append(f"{key}={show(old)} -> {key}={show(new)}")
    return diffs


def check_same_config(ckpt: Mapping, path: str, config: Mapping) -> None:
    """Refuses to continue checkpoint ``ckpt`` under another config (run before any data).

    Args:
        ckpt: the checkpoint as read by :func:`graphrec.runtime.load_checkpoint`.
        path: its file, for the message.
        config: the resolved config of the run that would continue it.

    Raises:
        ConfigError: one line naming what differs.
    """
    diffs = config_differences(ckpt["graphrec"]["config"], config)
    if diffs:
        more = f" (and {len(diffs) - 3} more)" if len(diffs) > 3 else ""
        raise ConfigError(
            f"checkpoint {path} was trained with another config: {'; '.join(diffs[:3])}{more}; "
            "continue it with the overrides it was trained with (scripts/train.py resume=<run>)")


def check_same_data(ckpt: Mapping, path: str, provenance: Mapping) -> None:
    """Refuses to continue checkpoint ``ckpt`` on other data or another split.

    Raises:
        ConfigError: the data or split fingerprint of ``provenance`` (this run's) differs.
    """
    stored = ckpt["graphrec"]["provenance"]
    for what in ("data", "split"):
        key = f"{what}_fingerprint"
        if stored.get(key) != provenance[key]:
            raise ConfigError(
                f"checkpoint {path}: {what} fingerprint differs ({stored.get(key)} at training, "
                f"{provenance[key]} now): the data files or the generator changed; start a new "
                "run instead of continuing this one")
