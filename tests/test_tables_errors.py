"""Malformed tables stop the run with exit code 2 and one line naming file, column and rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import make_cfg
from tables_fixture import write_tables

from graphrec.runtime import run_cli
from graphrec.train import train


def _csv(root, name, edit):
    frame = pd.read_csv(root / name)
    edit(frame)
    frame.to_csv(root / name, index=False)


def _parquet(root, name, frame_fn):
    frame_fn(pd.read_parquet(root / name)).to_parquet(root / name, index=False)


def _set(column, row, value):
    def edit(frame):
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
    return edit


def _schema(edit):
    def mutate(root, schema):
        edit(schema)
    return mutate


# (case id, mutation of the good tables or of the schema dict, fragments of the one line).
CASES = [
    ("missing_node_file", lambda r, s: (r / "users.csv").unlink(),
     ["users.csv", "not found", "node table 'user'"]),
    ("missing_edge_file", lambda r, s: (r / "likes.csv").unlink(),
     ["likes.csv", "not found", "edge table 'likes'"]),
    ("missing_column", lambda r, s: _csv(r, "users.csv", lambda f: f.pop("age")),
     ["users.csv", "['age'] missing", "node type 'user'"]),
    ("duplicate_node_ids", lambda r, s: _csv(r, "users.csv", _set("user_id", 3, "u000")),
     ["users.csv", "column 'user_id'", "duplicate node ids", "2 rows", "line 5 'u000'"]),
    ("unknown_edge_ids", lambda r, s: _csv(r, "friends.csv", _set("b", 6, "stranger")),
     ["friends.csv", "column 'b'", "not in the 'user' node table", "1 row", "line 8 'stranger'",
      "on_unknown_ids: drop"]),
    ("mixed_numbers_and_text", lambda r, s: _csv(r, "users.csv", _set("age", 2, "forty")),
     ["users.csv", "column 'age'", "expected numbers", "1 row", "line 4 'forty'"]),
    ("nan_in_feature", lambda r, s: _csv(r, "users.csv", _set("followers", 9, np.nan)),
     ["users.csv", "column 'followers'", "NaN", "1 row", "line 11"]),
    ("inf_in_feature", lambda r, s: _csv(r, "users.csv", _set("followers", 0, np.inf)),
     ["users.csv", "column 'followers'", "inf", "1 row", "line 2"]),
    ("nan_in_edge_attribute", lambda r, s: _csv(r, "likes.csv", _set("stars", 5, np.nan)),
     ["likes.csv", "column 'stars'", "NaN", "1 row", "line 7"]),
    ("empty_table", lambda r, s: (r / "likes.csv").write_text("user,post,stars\n"),
     ["likes.csv", "empty", "edge table 'likes'"]),
    ("label_outside_classes", lambda r, s: _parquet(r, "posts.parquet", lambda f: f.assign(
        mood=["angry" if i in (4, 7) else m for i, m in enumerate(f["mood"])])),
     ["posts.parquet", "column 'mood'", "outside the declared classes", "2 rows",
      "row 4 'angry'", "row 7 'angry'"]),
    ("timestamp_does_not_parse", lambda r, s: _csv(r, "users.csv", _set("joined", 12, "soon")),
     ["users.csv", "column 'joined'", "do not parse", "1 row", "line 14 'soon'"]),
    ("timestamp_missing", lambda r, s: _parquet(r, "wrote.parquet", lambda f: f.assign(
        time=[None if i == 3 else t for i, t in enumerate(f["time"])])),
     ["wrote.parquet", "column 'time'", "missing timestamps", "1 row", "row 3"]),
    ("missing_edge_id", lambda r, s: _csv(r, "likes.csv", _set("user", 1, np.nan)),
     ["likes.csv", "column 'user'", "missing ids", "1 row", "line 3"]),
    ("non_integer_numeric_ids", lambda r, s: _parquet(r, "wrote.parquet", lambda f: f.assign(
        post=[p + 0.5 if i == 2 else float(p) for i, p in enumerate(f["post"])])),
     ["wrote.parquet", "column 'post'", "non-integer numeric ids", "1 row", "row 2 1000"]),
    # pyarrow stores a column with one bytes cell as binary: every id is bytes then.
    ("binary_ids", lambda r, s: _parquet(r, "wrote.parquet", lambda f: f.assign(
        user=[u.encode() if i == 1 else u for i, u in enumerate(f["user"])])),
     ["wrote.parquet", "column 'user'", "ids of unsupported type", "90 rows", "row 1 b'u"]),
    ("true_false_ids", lambda r, s: _parquet(r, "wrote.parquet", lambda f: f.assign(
        post=[i % 2 == 0 for i in range(len(f))])),
     ["wrote.parquet", "column 'post'", "true/false"]),
    ("empty_categorical_cell", lambda r, s: _csv(r, "users.csv", _set("country", 8, np.nan)),
     ["users.csv", "column 'country'", "empty categorical", "1 row", "line 10"]),
    ("unsupported_suffix", _schema(lambda s: s["nodes"]["user"].update(file="users.xlsx")),
     ["users.xlsx", "suffix '.xlsx'"]),
    ("unknown_schema_key", _schema(lambda s: s["nodes"]["user"].update(colums=["age"])),
     ["nodes.user", "unknown key(s) ['colums']", "allowed"]),
    ("undeclared_node_type", _schema(lambda s: s["edges"]["likes"].update(target="video")),
     ["edges.likes", "node type 'video' has no node table"]),
    ("symmetric_between_types", _schema(lambda s: s["edges"]["likes"].update(symmetric=True)),
     ["edges.likes", "symmetric relation joins one node type to itself"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_malformed_tables_exit_2_with_one_line_naming_the_problem(case, tmp_path, capsys):
    name, mutate, fragments = case
    root = tmp_path / "tables"
    t = write_tables(root)
    schema = yaml.safe_load(t["schema"].read_text())
    mutate(root, schema)
    (root / "schema.yaml").write_text(yaml.safe_dump(schema, sort_keys=False))
    cfg = make_cfg(tmp_path / "run", ["data=tables", f"data.source.schema={t['schema']}",
                                      "task=[friend]"])
    with pytest.raises(SystemExit) as exit_info:
        run_cli(train, cfg)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("graphrec: error: ") and "\n" not in err, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def test_tables_without_a_schema_says_how_to_pass_one(tmp_path, capsys):
    cfg = make_cfg(tmp_path, ["data=tables", "task=[friend]"])
    with pytest.raises(SystemExit) as exit_info:
        run_cli(train, cfg)
    assert exit_info.value.code == 2
    assert "data.source.schema=<schema.yaml>" in capsys.readouterr().err
