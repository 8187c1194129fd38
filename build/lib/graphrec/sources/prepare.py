"""Converted tables in a cache folder: raw dumps that are not tables (XML, circle lists) are
turned into Parquet once, and again only when a raw file changes.

A converter is any object with ``inputs()`` (the raw files it reads, raising
:class:`~graphrec.utils.errors.DataMissingError` when some are absent) and ``write(out_dir)``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

# Written last into the cache folder: what the tables were converted from, so an interrupted
# conversion or a changed raw file triggers a fresh one.
MANIFEST = "graphrec_tables.json"


def default_cache_dir() -> Path:
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "graphrec" / "tables"


def prepared_root(converter, cache_dir: str | Path | None, name: str) -> Path:
    """The folder holding ``converter``'s tables, converting them first when needed.

    Args:
        converter: see the module docstring.
        cache_dir: where converted tables live (``<cache_dir>/<name>/``); ``None``:
            ``$XDG_CACHE_HOME/graphrec/tables`` or ``~/.cache/graphrec/tables``.
        name: the data set's name, the cache subfolder.
    """
    inputs = [Path(p) for p in converter.inputs()]
    target = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    target = target / name
    manifest = {
        "converter": f"{type(converter).__module__}.{type(converter).__qualname__}",
        "version": getattr(converter, "version", 1),
        "inputs": {str(p.resolve()): [p.stat().st_size, p.stat().st_mtime_ns] for p in inputs},
    }
    try:
        current = json.loads((target / MANIFEST).read_text())
    except (OSError, ValueError):
        current = None
    if current == manifest:
        return target
    log.info("converting %s into %s", name, target)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True, exist_ok=True)
    converter.write(target)
    (target / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return target
