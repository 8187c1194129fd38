"""Errors that users can fix: the entry points print their message without a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

# What a user can do about non-finite model outputs, appended to every such message.
NON_FINITE_HINT = ("the model produced non-finite outputs (check features for NaN/inf, "
                   "lower model.lr)")


class ConfigError(ValueError):
    """A configuration asks for something that cannot work; the message names the fix."""


class DataMissingError(FileNotFoundError):
    """Expected data files are absent; the message lists them and where to get them."""


class NonFiniteError(ValueError):
    """A score, logit or loss is NaN or infinite, so no metric or step can be trusted.

    Args:
        detail: what is non-finite, e.g. ``"37 of 4,200 scores are NaN"``.
        where: the ``split/task`` (or ``train/task``) it happened in, once known.
    """

    def __init__(self, detail: str, where: str | None = None):
        self.detail, self.where = detail, where
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{detail}; {NON_FINITE_HINT}")

    def at(self, where: str) -> NonFiniteError:
        """The same error, located in ``where`` (an inner location already set wins)."""
        return self if self.where else NonFiniteError(self.detail, where)


@contextmanager
def located(where: str) -> Iterator[None]:
    """Names ``where`` (``"val/friend"``) in any :class:`NonFiniteError` raised inside.

    Metric functions do not know which task and split they score; the loop that does
    wraps them in this.
    """
    try:
        yield
    except NonFiniteError as e:
        raise e.at(where) from None


class DataFormatError(ValueError):
    """A data file is malformed; the message names the file, the row and what it expected."""


class SchemaError(ValueError):
    """A graph does not follow the schema; the message says what is wrong and how to fix it.

    Defined here, with the other user errors, so the entry points can name it without
    importing the graph libraries (:mod:`graphrec.data.schema` re-exports it).
    """
