"""Converters of raw dumps that are not tables into the Parquet tables a schema reads.

Each converter is built from the raw folder, lists the files it reads (``inputs()``, raising
:class:`~graphrec.utils.errors.DataMissingError` when some are absent) and writes its tables
into a folder it is given (``write(out_dir)``), never into the raw folder.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from graphrec.utils.errors import DataMissingError

DATA_DIR_ENV = "GRAPHREC_DATA_DIR"


def require_inputs(raw_dir: Path, files: list[str], what: str, subdir: str) -> list[Path]:
    """The raw files, or a DataMissingError naming the missing ones and both ways out."""
    missing = [f for f in files if not (raw_dir / f).is_file()]
    if missing:
        raise DataMissingError(
            f"{what}: {len(missing)} file(s) missing in {raw_dir}: {', '.join(missing)}; point "
            f"{DATA_DIR_ENV} at the folder holding {subdir}/ (or data.source.prepare.raw_dir "
            f"at the files), or convert by hand with python scripts/convert_tables.py "
            f"{what} <raw folder> <out folder> and pass data.source.root=<out folder>")
    return [raw_dir / f for f in files]


def write_parquet(frame: pd.DataFrame, out_dir: Path, name: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out_dir / name, engine="pyarrow", index=False)
