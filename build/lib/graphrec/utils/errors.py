"""Errors that users can fix: the entry points print their message without a traceback."""


class ConfigError(ValueError):
    """A configuration asks for something that cannot work; the message names the fix."""


class DataMissingError(FileNotFoundError):
    """Expected data files are absent; the message lists them and where to get them."""
