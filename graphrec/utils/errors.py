"""Errors that users can fix: the entry points print their message without a traceback."""


class ConfigError(ValueError):
    """A configuration asks for something that cannot work; the message names the fix."""


class DataMissingError(FileNotFoundError):
    """Expected data files are absent; the message lists them and where to get them."""


class DataFormatError(ValueError):
    """A data file is malformed; the message names the file, the row and what it expected."""


class SchemaError(ValueError):
    """A graph does not follow the schema; the message says what is wrong and how to fix it.

    Defined here, with the other user errors, so the entry points can name it without
    importing the graph libraries (:mod:`graphrec.data.schema` re-exports it).
    """
