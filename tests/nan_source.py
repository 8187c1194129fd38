"""A tiny synthetic graph whose user features hold NaN, for the non-finite tests.

A module of its own so that a subprocess run can name it as ``data.source._target_``.
"""

from graphrec.sources.synthetic import SyntheticSource


class NaNUserFeatures(SyntheticSource):
    """The synthetic graph with every 7th user's features set to NaN."""

    def __call__(self):
        data = super().__call__()
        data["user"].x[::7] = float("nan")
        return data


def nan_graph_overrides() -> list[str]:
    return ["data=synthetic_tiny", "data.source._target_=nan_source.NaNUserFeatures"]

