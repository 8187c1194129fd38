"""A small social platform as user tables (CSV and Parquet) plus their schema, for tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

MOODS = ["neg", "neu", "pos"]


def write_tables(root: Path, num_users: int = 60, num_posts: int = 90, seed: int = 0) -> dict:
    """Writes users.csv, posts.parquet, friends.csv, wrote.parquet, likes.csv, schema.yaml.

    User ids are strings in shuffled order and post ids large integers, so a node's index is
    never its raw id. Returns the frames, by file name, and the schema path under ``schema``.
    """
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    user_ids = [f"u{i:03d}" for i in rng.permutation(num_users)]
    users = pd.DataFrame({
        "user_id": user_ids,
        # Large magnitudes: standardization must not lose the small ones.
        "followers": rng.integers(0, 10**9, num_users),
        "age": rng.integers(18, 80, num_users),
        "country": rng.choice(["fr", "de", "us"], num_users),
        "joined": pd.date_range("2020-01-01", periods=num_users, freq="D").strftime("%Y-%m-%d"),
    })
    post_ids = (10**6 + rng.permutation(num_posts)).astype(np.int64)
    mood = rng.integers(0, 3, num_posts)
    words = {0: "awful sad bad", 1: "fine okay plain", 2: "great happy love"}
    posts = pd.DataFrame({
        "post_id": post_ids,
        "text": [f"{words[m]} post {i}" for i, m in enumerate(mood)],
        "mood": [MOODS[m] for m in mood],
        "created": pd.date_range("2021-01-01", periods=num_posts, freq="h"),
    })
    pairs = set()
    while len(pairs) < 3 * num_users:
        a, b = rng.integers(0, num_users, 2)
        if a != b:
            pairs.add((min(a, b), max(a, b)))
    pairs = sorted(pairs)
    friends = pd.DataFrame({"a": [user_ids[a] for a, _ in pairs],
                            "b": [user_ids[b] for _, b in pairs],
                            "since": rng.integers(1.5e9, 1.7e9, len(pairs))})
    wrote = pd.DataFrame({"user": rng.choice(user_ids, num_posts), "post": post_ids,
                          "time": posts["created"].astype(str)})
    likes = set()
    while len(likes) < 4 * num_users:
        likes.add((user_ids[rng.integers(num_users)], int(post_ids[rng.integers(num_posts)])))
    likes = pd.DataFrame(sorted(likes), columns=["user", "post"])
    likes["stars"] = rng.integers(1, 6, len(likes))
    users.to_csv(root / "users.csv", index=False)
    posts.to_parquet(root / "posts.parquet", index=False)
    friends.to_csv(root / "friends.csv", index=False)
    wrote.to_parquet(root / "wrote.parquet", index=False)
    likes.to_csv(root / "likes.csv", index=False)
    schema = {
        "name": "tiny_platform",
        "nodes": {
            "user": {"file": "users.csv", "id": "user_id", "numeric": ["followers", "age"],
                     "categorical": ["country"], "timestamp": "joined"},
            "post": {"file": "posts.parquet", "id": "post_id", "text": "text",
                     "labels": {"mood": {"column": "mood", "classes": MOODS}},
                     "timestamp": "created"},
        },
        "edges": {
            "friends": {"file": "friends.csv", "source": "user", "target": "user",
                        "source_id": "a", "target_id": "b", "timestamp": "since",
                        "symmetric": True},
            "wrote": {"file": "wrote.parquet", "source": "user", "target": "post",
                      "source_id": "user", "target_id": "post", "timestamp": "time"},
            "likes": {"file": "likes.csv", "source": "user", "target": "post",
                      "source_id": "user", "target_id": "post", "attributes": ["stars"]},
        },
    }
    (root / "schema.yaml").write_text(yaml.safe_dump(schema, sort_keys=False))
    return {"users.csv": users, "posts.parquet": posts, "friends.csv": friends,
            "wrote.parquet": wrote, "likes.csv": likes, "schema": root / "schema.yaml"}
