"""SNAP ego-Facebook with its circles: friendships plus user-member_of-circle as tables.

Each ``facebook/<ego>.circles`` line is ``<circle name>\\t<member id>\\t...`` in the global id
space of ``facebook_combined.txt``; circle names repeat across egos, so a circle's id is
``<ego>/<name>``. The ego owns its circles but is not listed as a member.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from graphrec.sources.convert import require_inputs, write_parquet


class EgoCircleTables:
    """Writes ``users``, ``friends``, ``circles``, ``member_of`` and ``owns`` Parquet tables.

    Args:
        raw_dir: folder holding ``facebook_combined.txt`` and ``facebook/<ego>.circles``.
    """

    version = 1

    def __init__(self, raw_dir: str):
        self.raw_dir = Path(raw_dir).expanduser()

    def inputs(self) -> list[Path]:
        # Every ego's circles that are there (SNAP ships 10); none at all is missing data.
        circles = sorted(p.relative_to(self.raw_dir).as_posix()
                         for p in self.raw_dir.glob("facebook/*.circles"))
        files = ["facebook_combined.txt", *(circles or ["facebook/<ego>.circles"])]
        return require_inputs(self.raw_dir, files, "ego_facebook_circles", "ego-facebook")

    def write(self, out_dir: Path) -> None:
        combined, *circle_files = self.inputs()
        pairs = np.loadtxt(combined, dtype=np.int64, ndmin=2, comments="#")
        members, circles = [], []
        for path in circle_files:
            ego = int(path.stem)
            for line in path.read_text().splitlines():
                name, *ids = line.split()
                if not name:
                    continue
                circle = f"{ego}/{name}"
                circles.append((circle, ego))
                members.extend((int(u), circle) for u in ids)
        users = np.unique(pairs)
        write_parquet(pd.DataFrame({"user_id": users}), out_dir, "users.parquet")
        write_parquet(pd.DataFrame({"u": pairs[:, 0], "v": pairs[:, 1]}), out_dir,
                      "friends.parquet")
        # No member count per circle: it would count held-out memberships too.
        write_parquet(pd.DataFrame(circles, columns=["circle_id", "ego"]), out_dir,
                      "circles.parquet")
        write_parquet(pd.DataFrame(members, columns=["user", "circle"]), out_dir,
                      "member_of.parquet")
        write_parquet(pd.DataFrame({"ego": [c[1] for c in circles],
                                    "circle": [c[0] for c in circles]}), out_dir, "owns.parquet")
