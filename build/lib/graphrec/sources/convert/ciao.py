"""Ciao (Tang et al. 2012): trust edges and 1-5 product ratings as tables.

The raw files are whitespace-separated floats in MATLAB ``%e`` notation without a header,
``rating.txt`` (``user product category rating helpfulness time``) and ``trust.txt``
(``truster trustee``); there is no user or product table, so both are derived here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from graphrec.sources.convert import require_inputs, write_parquet

FILES = ["rating.txt", "trust.txt"]


class CiaoTables:
    """Writes ``users``, ``products`` (with category), ``trust`` and ``ratings`` Parquet tables.

    Args:
        raw_dir: folder holding ``rating.txt`` and ``trust.txt`` (``ciao-etrust/``).
    """

    version = 1

    def __init__(self, raw_dir: str):
        self.raw_dir = Path(raw_dir).expanduser()

    def inputs(self) -> list[Path]:
        return require_inputs(self.raw_dir, FILES, "ciao", "ciao-etrust")

    def write(self, out_dir: Path) -> None:
        rating_path, trust_path = self.inputs()
        # loadtxt parses numbers only: the files can carry no code.
        r = np.loadtxt(rating_path, ndmin=2)
        t = np.loadtxt(trust_path, ndmin=2).astype(np.int64)
        ratings = pd.DataFrame({
            "user": r[:, 0].astype(np.int64), "product": r[:, 1].astype(np.int64),
            "category": r[:, 2].astype(np.int64), "rating": r[:, 3].astype(np.int64),
            "helpfulness": r[:, 4].astype(np.int64), "time": r[:, 5].astype(np.int64)})
        # Three products are filed under two categories: their most frequent one over all
        # rating rows (then the lowest).
        category = (ratings.groupby(["product", "category"]).size().rename("n").reset_index()
                    .sort_values(["product", "n", "category"], ascending=[True, False, True])
                    .drop_duplicates("product"))
        # 230 (user, product) pairs are rated twice; the latest rating is the user's current
        # opinion, and keeping one row per pair keeps a pair out of both the liked (>= 4) and
        # the rated-below-4 relations, where a held-out like would leak through its twin.
        ratings = (ratings.sort_values("time", kind="stable")
                   .drop_duplicates(["user", "product"], keep="last")
                   .sort_values(["user", "product"], kind="stable"))
        products = pd.DataFrame({"product_id": category["product"].to_numpy(),
                                 "category": [f"c{c}" for c in category["category"]]})
        trust = pd.DataFrame({"truster": t[:, 0], "trustee": t[:, 1]})
        users = np.union1d(np.union1d(ratings["user"], trust["truster"]), trust["trustee"])
        write_parquet(pd.DataFrame({"user_id": users}), out_dir, "users.parquet")
        write_parquet(products, out_dir, "products.parquet")
        write_parquet(trust, out_dir, "trust.parquet")
        write_parquet(ratings.drop(columns="category"), out_dir, "ratings.parquet")
