"""A Stack Exchange XML dump as tables: users, posts (text, quality label), tags, relations.

The dump's ``<row .../>`` elements are read with ``xml.etree.ElementTree.iterparse``, which
builds plain elements and runs nothing from the file. Relations written:

* ``answered``: answerer -> asker, once per pair (its first answer), self-answers excluded;
* ``wrote``: user -> question or answer; ``commented``: user -> question or answer;
* ``tagged``: question -> tag;
* ``uses``: user -> tag of a question the user answered (an expertise link). Tags of the
  user's own questions are left out on purpose: that link would be a copy of the two-hop
  path wrote -> tagged already in the graph, not something to predict.

Posts are questions and answers (tag wikis are left out). Their ``quality`` label is
``high`` when the score reaches the median score of posts of the same kind (questions score
higher than answers), else ``low``. The score itself and the users' reputation (a sum of
their posts' votes) stay out of the features: both would hand the label to the model.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd

from graphrec.sources.convert import require_inputs, write_parquet

FILES = ["Users.xml", "Posts.xml", "Comments.xml", "Tags.xml"]
QUESTION, ANSWER = "1", "2"
# A bag-of-words featurizer needs the words, not the markup: dropping tags and unescaping
# entities is enough, so no HTML parser is pulled in.
_TAG_RE = re.compile(r"<[^>]+>")
_TAGS_RE = re.compile(r"<([^<>]+)>")


def _rows(path: Path):
    for _, elem in ET.iterparse(path):
        if elem.tag == "row":
            yield dict(elem.attrib)
            elem.clear()


def _plain(markup: str) -> str:
    return " ".join(html.unescape(_TAG_RE.sub(" ", markup)).split())


class StackExchangeTables:
    """Writes the tables of one Stack Exchange site dump.

    Args:
        raw_dir: folder holding ``Users.xml``, ``Posts.xml``, ``Comments.xml``, ``Tags.xml``.
    """

    version = 1

    def __init__(self, raw_dir: str):
        self.raw_dir = Path(raw_dir).expanduser()

    def inputs(self) -> list[Path]:
        return require_inputs(self.raw_dir, FILES, "stackexchange",
                              "stackexchange-quantumcomputing-2018")

    def write(self, out_dir: Path) -> None:
        users_xml, posts_xml, comments_xml, tags_xml = self.inputs()
        users = pd.DataFrame([
            {"user_id": int(r["Id"]), "created": r["CreationDate"],
             # Heavy-tailed counts: log1p keeps a few very active users from dominating.
             "log_views": np.log1p(int(r.get("Views", 0))),
             "log_upvotes": np.log1p(int(r.get("UpVotes", 0))),
             "log_downvotes": np.log1p(int(r.get("DownVotes", 0)))}
            for r in _rows(users_xml)])
        posts = [r for r in _rows(posts_xml) if r.get("PostTypeId") in (QUESTION, ANSWER)]
        table = pd.DataFrame({
            "post_id": [int(r["Id"]) for r in posts],
            "kind": ["question" if r["PostTypeId"] == QUESTION else "answer" for r in posts],
            "text": [_plain(f"{r.get('Title', '')} {r.get('Body', '')}") for r in posts],
            "score": [int(r["Score"]) for r in posts],
            "created": [r["CreationDate"] for r in posts],
        })
        median = table.groupby("kind")["score"].transform("median")
        table["quality"] = np.where(table["score"] >= median, "high", "low")
        owner = {int(r["Id"]): int(r["OwnerUserId"]) for r in posts if "OwnerUserId" in r}
        question_tags = {int(r["Id"]): _TAGS_RE.findall(r.get("Tags", ""))
                         for r in posts if r["PostTypeId"] == QUESTION}
        wrote = pd.DataFrame([(u, p, r["CreationDate"]) for r in posts
                              if (p := int(r["Id"])) in owner for u in [owner[p]]],
                             columns=["user", "post", "time"])
        answers = [r for r in posts if r["PostTypeId"] == ANSWER and "OwnerUserId" in r
                   and "ParentId" in r]
        answered = pd.DataFrame(
            [(owner[int(r["Id"])], owner[q], r["CreationDate"]) for r in answers
             if (q := int(r["ParentId"])) in owner and owner[q] != owner[int(r["Id"])]],
            columns=["answerer", "asker", "time"])
        uses = pd.DataFrame(
            [(owner[int(r["Id"])], tag, r["CreationDate"]) for r in answers
             for tag in question_tags.get(int(r["ParentId"]), [])],
            columns=["user", "tag", "time"])
        tagged = pd.DataFrame([(q, tag, table.loc[table.post_id == q, "created"].iloc[0])
                               for q, tags in question_tags.items() for tag in tags],
                              columns=["post", "tag", "time"])
        known_posts = set(table["post_id"])
        commented = pd.DataFrame(
            [(int(r["UserId"]), int(r["PostId"]), r["CreationDate"]) for r in _rows(comments_xml)
             if "UserId" in r and int(r["PostId"]) in known_posts],
            columns=["user", "post", "time"])
        tags = pd.DataFrame({"tag": [r["TagName"] for r in _rows(tags_xml)]})

        def first(frame, keys):  # one row per pair: its earliest
            return frame.sort_values("time", kind="stable").drop_duplicates(keys)

        write_parquet(users, out_dir, "users.parquet")
        write_parquet(table, out_dir, "posts.parquet")
        write_parquet(tags, out_dir, "tags.parquet")
        write_parquet(wrote, out_dir, "wrote.parquet")
        write_parquet(first(answered, ["answerer", "asker"]), out_dir, "answered.parquet")
        write_parquet(first(commented, ["user", "post"]), out_dir, "commented.parquet")
        write_parquet(tagged, out_dir, "tagged.parquet")
        write_parquet(first(uses, ["user", "tag"]), out_dir, "uses.parquet")
