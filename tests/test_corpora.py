"""Sentiment corpora: loaders on small fixture files, official splits, missing-data messages,
real text on the social graph, and a run through the real training entry point."""

import os

import pytest
import torch
from conftest import make_cfg

from graphrec.data.datamodule import GraphDataModule
from graphrec.data.splits import fixed_node_split
from graphrec.sources.corpora import SentimentCorpusSource, read_corpus, sample_texts_by_label
from graphrec.sources.synthetic import generate_social_graph
from graphrec.train import train
from graphrec.utils.errors import ConfigError, DataMissingError

SST2 = {
    "train.tsv": ["hide new secretions from the parental units \t0", "a \"great\" film\t1",
                  "not good\t0", "moving and wise\t1", "dull\t0", "fun\t1"],
    "dev.tsv": ["it 's a charming journey . \t1", "bleak\t0"],
    "test_labeled.tsv": ["uneasy mishmash .\t0", "a gem\t1", "flat\t0"],
}


def write_sst2(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in SST2.items():
        (folder / name).write_text("sentence\tlabel\n" + "\n".join(rows) + "\n")
    return folder


def write_tweets(folder, splits=("train", "val", "test"), sizes=(9, 6, 6)):
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in zip(splits, sizes):
        texts = [f"{split} tweet {i} i\\u2019m \"ok\"" for i in range(n)]
        (folder / f"{split}_text.txt").write_text("\n".join(texts) + "\n")
        (folder / f"{split}_labels.txt").write_text("\n".join(str(i % 3) for i in range(n)) + "\n")
    return folder


def test_sst2_loader_keeps_the_official_split_and_quotes(tmp_path):
    data = read_corpus("sst2", write_sst2(tmp_path / "sst2"))
    assert {k: len(v[0]) for k, v in data.items()} == {"train": 6, "val": 2, "test": 3}
    assert data["train"][0][1] == 'a "great" film' and data["train"][1] == [0, 1, 0, 1, 0, 1]
    assert data["val"][0][0] == "it 's a charming journey ."


def test_corpus_graph_has_disjoint_masks_matching_the_files(tmp_path):
    g = SentimentCorpusSource("sst2", str(write_sst2(tmp_path / "sst2")))()
    post = g["post"]
    assert post.num_nodes == 11 and len(post.text) == 11 and g.edge_types == []
    assert post.train_mask.sum() == 6 and post.val_mask.sum() == 2 and post.test_mask.sum() == 3
    assert not (post.train_mask & post.val_mask).any()
    assert not ((post.train_mask | post.val_mask) & post.test_mask).any()
    assert [post.text[i] for i in torch.nonzero(post.test_mask).squeeze(1)] == [
        "uneasy mishmash .", "a gem", "flat"]


def test_tweet_loader_decodes_escapes(tmp_path):
    data = read_corpus("umsab_english", write_tweets(tmp_path / "u"))
    assert data["train"][0][0] == 'train tweet 0 i\u2019m "ok"'
    assert data["test"][1] == [0, 1, 2, 0, 1, 2]


def test_tweeteval_holds_out_part_of_val_and_tests_on_test(tmp_path):
    folder = write_tweets(tmp_path / "t", ("val", "test"), (10, 4))
    src = SentimentCorpusSource("tweeteval_sentiment", str(folder), holdout=0.2)
    parts = src.splits()
    assert len(parts["train"][0]) == 8 and len(parts["val"][0]) == 2
    assert not set(parts["train"][0]) & set(parts["val"][0])
    assert parts["test"][0][0].startswith("test tweet 0")
    assert src.splits() == parts  # fixed, whatever the training seed


def test_missing_files_are_named(tmp_path):
    folder = write_sst2(tmp_path / "sst2")
    (folder / "test_labeled.tsv").unlink()
    with pytest.raises(DataMissingError, match=r"test_labeled\.tsv") as e:
        SentimentCorpusSource("sst2", str(folder))()
    assert "train.tsv" not in str(e.value).split("missing in")[1].split(".")[0]
    with pytest.raises(DataMissingError, match=r"val_text\.txt, val_labels\.txt"):
        read_corpus("tweeteval_sentiment", tmp_path / "nothing-here")


def test_missing_data_dir_says_how_to_set_it(monkeypatch):
    monkeypatch.delenv("GRAPHREC_DATA_DIR", raising=False)
    with pytest.raises(DataMissingError, match="GRAPHREC_DATA_DIR"):
        SentimentCorpusSource("umsab_english")()


def test_datamodule_uses_the_official_split_not_a_random_one(tmp_path):
    src = SentimentCorpusSource("sst2", str(write_sst2(tmp_path / "sst2")))
    dm = GraphDataModule(src, {"sentiment": {"kind": "node", "node_type": "post"}},
                         text={"post": {"kind": "hashed_bow", "num_buckets": 64}})
    dm.setup()
    split = dm.splits["sentiment"]
    assert split.train.tolist() == list(range(6))
    assert split.val.tolist() == [6, 7] and split.test.tolist() == [8, 9, 10]
    assert dm.batches["test"]["targets"]["sentiment"]["index"].tolist() == [8, 9, 10]
    assert dm.node_specs["post"]["text"] == {"kind": "hashed_bow", "num_buckets": 64}


def test_overlapping_fixed_masks_are_rejected(tmp_path):
    g = SentimentCorpusSource("sst2", str(write_sst2(tmp_path / "sst2")))()
    g["post"].val_mask[0] = True  # node 0 is also a train node
    with pytest.raises(ValueError, match="overlap on 1 nodes"):
        fixed_node_split(g, "post")


def test_sample_texts_by_label_agrees_with_labels_and_never_repeats(tmp_path):
    root = tmp_path / "data"
    write_tweets(root / "sentiment" / "umsab_english", sizes=(30, 9, 9))
    texts = {t: y for split in read_corpus("umsab_english", root / "sentiment" /
                                           "umsab_english").values()
             for t, y in zip(*split)}
    labels = torch.tensor([0, 1, 2, 2, 1, 0, 0, 2])
    out = sample_texts_by_label("umsab_english", labels, torch.Generator().manual_seed(0),
                                str(root))
    assert [texts[t] for t in out] == labels.tolist() and len(set(out)) == len(out)
    with pytest.raises(ConfigError, match="want a 'negative' sentence"):
        sample_texts_by_label("umsab_english", torch.zeros(50, dtype=torch.long),
                              torch.Generator(), str(root))


def test_real_text_social_graph_keeps_the_graph_and_planted_labels(tmp_path):
    root = tmp_path / "data"
    write_tweets(root / "sentiment" / "umsab_english", sizes=(400, 200, 200))
    plain = generate_social_graph(num_users=60, community_size=20, seed=3, posts_per_user=2)
    real = generate_social_graph(num_users=60, community_size=20, seed=3, posts_per_user=2,
                                 real_text="umsab_english", real_text_root=str(root))
    et = ("user", "friends", "user")
    assert torch.equal(plain[et].edge_index, real[et].edge_index)
    assert len(real["post"].text) == real["post"].num_nodes and "tokens" not in real["post"]
    # Every post's sentence has the post's label (file labels cycle 0, 1, 2 by line).
    for text, y in zip(real["post"].text, real["post"].y.tolist()):
        assert int(text.split()[2]) % 3 == y


def test_sentiment_experiment_trains_on_corpus_fixture(tmp_path):
    folder = write_tweets(tmp_path / "u", sizes=(30, 9, 9))
    cfg = make_cfg(tmp_path / "run", ["experiment=sentiment_umsab", "data=umsab_english",
                                      f"data.source.root={folder}",
                                      "featurizer.num_buckets=256"])
    res = train(cfg)
    assert 0.0 <= res["test"]["test/sentiment/macro_f1"] <= 1.0
    assert res["provenance"]["split_fingerprint"]


def _real(*parts):
    base = os.environ.get("GRAPHREC_DATA_DIR")
    if not base or not os.path.isdir(os.path.join(base, *parts)):
        pytest.skip("GRAPHREC_DATA_DIR with the sentiment corpora is not set")
    return os.path.join(base, *parts)


@pytest.mark.data
def test_real_corpora_have_their_documented_sizes():
    sizes = {"sst2": (67349, 872, 1821), "umsab_english": (1839, 324, 870)}
    for name, sub in (("sst2", ("sst2",)), ("umsab_english", ("sentiment", "umsab_english"))):
        data = read_corpus(name, _real(*sub))
        assert tuple(len(data[s][0]) for s in ("train", "val", "test")) == sizes[name]
    tw = read_corpus("tweeteval_sentiment", _real("sentiment", "tweeteval_sentiment"))
    assert len(tw["val"][0]) == 2000 and len(tw["test"][0]) == 12284
