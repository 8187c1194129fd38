"""Reading one CSV or Parquet table and checking its columns, with errors that point at rows.

Every check names the file, the column, how many rows are wrong and the first of them
(``line N`` for CSV, counting the header as line 1, so an editor jumps there; ``row N``,
0-based, for Parquet), so a user can fix the table without a debugger.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from graphrec.utils.errors import ConfigError, DataMissingError

CSV_SUFFIXES = (".csv", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
SHOWN_ROWS = 5


class Table:
    """A read table and where it came from.

    Args:
        path: the file.
        frame: its contents.
    """

    def __init__(self, path: Path, frame: pd.DataFrame):
        self.path, self.frame = path, frame
        self.csv = path.suffix.lower() in CSV_SUFFIXES

    def __len__(self) -> int:
        return len(self.frame)

    def where(self, mask) -> str:
        """``"3 rows (line 4 'x', line 9 'y', ...)"``: how many and the first offending rows."""
        mask = np.asarray(mask, dtype=bool)
        idx = np.flatnonzero(mask)
        shown = ", ".join(self._row(i) for i in idx[:SHOWN_ROWS])
        more = ", ..." if idx.size > SHOWN_ROWS else ""
        return f"{idx.size} row{'s' if idx.size != 1 else ''} ({shown}{more})"

    def where_values(self, mask, column: str) -> str:
        mask = np.asarray(mask, dtype=bool)
        idx = np.flatnonzero(mask)
        values = self.frame[column].to_numpy()
        shown = ", ".join(f"{self._row(i)} {_plain(values[i])!r}" for i in idx[:SHOWN_ROWS])
        more = ", ..." if idx.size > SHOWN_ROWS else ""
        return f"{idx.size} row{'s' if idx.size != 1 else ''} ({shown}{more})"

    def _row(self, i: int) -> str:
        return f"line {i + 2}" if self.csv else f"row {i}"

    def fail(self, column: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(f"{self.path}: column '{column}': {problem}; {fix}")


def _plain(value):
    """A numpy scalar as the Python value it holds: its repr then reads like the cell."""
    return value.item() if isinstance(value, np.generic) else value


def read_table(path: Path, what: str) -> Table:
    """Reads ``path`` (CSV, TSV or Parquet, by suffix). Parquet is read by pyarrow and CSV by
    pandas; neither format can carry code, unlike pickle, which is never read."""
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES + PARQUET_SUFFIXES:
        raise ConfigError(f"{what}: {path} has suffix {suffix!r}; use one of "
                          f"{CSV_SUFFIXES + PARQUET_SUFFIXES}")
    if not path.is_file():
        raise DataMissingError(f"{what}: file {path} not found; write it or fix 'file:' in the "
                               "schema (relative paths start at data.source.root)")
    if suffix in CSV_SUFFIXES:
        try:
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
        except pd.errors.EmptyDataError:
            frame = pd.DataFrame()
        except pd.errors.ParserError as e:
            raise ConfigError(f"{path}: not a readable CSV table ({str(e).strip()})") from None
    else:
        try:
            frame = pd.read_parquet(path, engine="pyarrow")
        except Exception as e:  # pyarrow raises several types for a corrupt file
            raise ConfigError(f"{path}: not a readable Parquet file ({e})") from None
    if len(frame) == 0:
        raise ConfigError(f"{path}: the table is empty (no data rows); {what} needs at least "
                          "one row, or remove it from the schema")
    return Table(path, frame)


def require_columns(table: Table, columns, what: str) -> None:
    missing = [c for c in columns if c and c not in table.frame.columns]
    if missing:
        raise ConfigError(f"{table.path}: column(s) {missing} missing for {what}; the file has "
                          f"{list(map(str, table.frame.columns))}")


def numeric_column(table: Table, column: str) -> np.ndarray:
    """``[rows]`` float64 values; text, empty cells, NaN and inf are errors."""
    raw = table.frame[column]
    if pd.api.types.is_bool_dtype(raw):
        return raw.to_numpy(dtype=np.float64)
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    text = np.isnan(values) & raw.notna().to_numpy()
    if text.any():
        found = table.where_values(text, column)
        raise table.fail(column, f"expected numbers, found text in {found}",
                         "fix those cells or move the column to 'categorical'")
    bad = ~np.isfinite(values)
    if bad.any():
        raise table.fail(column, f"empty, NaN or inf in {table.where(bad)}",
                         "fill those cells with a finite number")
    return values


def id_column(table: Table, column: str) -> list:
    """The raw ids as Python ints or strs (one type per column); missing or mixed is an error."""
    raw = table.frame[column]
    missing = raw.isna().to_numpy()
    if missing.any():
        raise table.fail(column, f"missing ids in {table.where(missing)}", "give every row an id")
    if pd.api.types.is_bool_dtype(raw):
        raise table.fail(column, "ids are true/false values", "use integer or string ids")
    if pd.api.types.is_integer_dtype(raw):
        return [int(v) for v in raw.to_numpy()]
    if pd.api.types.is_float_dtype(raw):
        values = raw.to_numpy()
        frac = values != np.floor(values)
        if frac.any():
            found = table.where_values(frac, column)
            raise table.fail(column, f"non-integer numeric ids in {found}",
                             "use integer or string ids")
        return [int(v) for v in values]
    values = list(raw.to_numpy())
    # A CSV column is all strings once one cell is not a number, and a Parquet column has one
    # type, so only bytes or other objects (e.g. a binary Parquet column) land here.
    other = np.array([not isinstance(v, (str, int, np.integer)) or isinstance(v, bool)
                      for v in values])
    if other.any():
        raise table.fail(column, f"ids of unsupported type in {table.where_values(other, column)}",
                         "use integer or string ids")
    return [v if isinstance(v, str) else int(v) for v in values]


def timestamp_column(table: Table, column: str) -> np.ndarray:
    """``[rows]`` int64 seconds since 1970: numbers are taken as such, text is parsed as a
    date (ISO 8601 and the other formats pandas reads); empty or unparseable cells are errors."""
    raw = table.frame[column]
    missing = raw.isna().to_numpy()
    if missing.any():
        raise table.fail(column, f"missing timestamps in {table.where(missing)}",
                         "give every row a time, or drop 'timestamp' from the schema")
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        values = raw.to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            raise table.fail(column, f"inf timestamps in {table.where(bad)}",
                             "use seconds since 1970 or dates")
        return values.astype(np.int64)
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = pd.to_datetime(raw, utc=True)
    else:
        parsed = pd.to_datetime(raw.astype(str), errors="coerce", utc=True, format="mixed")
    bad = parsed.isna().to_numpy()
    if bad.any():
        raise table.fail(column, f"timestamps that do not parse in "
                         f"{table.where_values(bad, column)}",
                         "write dates as ISO 8601 (2018-03-12T17:00:45) or seconds since 1970")
    # Integer division of the offset works whatever unit (s, us, ns) pandas stored.
    seconds = (parsed - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    return np.array(seconds, dtype=np.int64)  # a writable copy: torch warns on read-only
