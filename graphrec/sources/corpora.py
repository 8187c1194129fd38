"""Real sentiment corpora as data sources: a graph of post nodes with text, labels and the
corpus's own official split.

Each source is a callable with a ``name`` (like the other sources): calling it reads local files
and returns a ``HeteroData`` with one node type ``post`` holding raw ``text`` (turned into
model inputs by the configured featurizer, :mod:`graphrec.text`), labels ``y`` and PyG-style
``train_mask`` / ``val_mask`` / ``test_mask``, which the datamodule uses instead of a random
split. There are no edges: the corpora have no social graph (see the synthetic generator's
``real_text`` option for real text on a social graph).

Folders (under ``root`` or ``$GRAPHREC_DATA_DIR``):

* ``sst2/``: GLUE SST-2 ``train.tsv``, ``dev.tsv``, ``test_labeled.tsv`` (``sentence<TAB>label``);
* ``sentiment/umsab_english/``: XLM-T UMSAB English ``{train,val,test}_{text,labels}.txt``;
* ``sentiment/tweeteval_sentiment/``: TweetEval sentiment ``{val,test}_{text,labels}.txt`` (its
  train texts are not distributed with the labels; see :class:`SentimentCorpusSource`).
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch_geometric.data import HeteroData

from graphrec.utils.errors import ConfigError, DataFormatError, DataMissingError

DATA_DIR_ENV = "GRAPHREC_DATA_DIR"
# The tweet files keep some characters as literal escapes ("i\\u2019m"); decoded, the words
# read as the model's vocabulary spells them.
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


@dataclass(frozen=True)
class Corpus:
    subdir: str
    # split -> file(s); tsv corpora have one file, line-aligned ones a text and a labels file.
    files: dict
    classes: tuple
    url: str


CORPORA = {
    "sst2": Corpus("sst2", {"train": ("train.tsv",), "val": ("dev.tsv",),
                            "test": ("test_labeled.tsv",)},
                   ("negative", "positive"), "https://gluebenchmark.com/tasks (SST-2); labelled "
                   "test from github.com/eyalbd2/Reproducing-AutoPrompt glue_data/SST-2"),
    "umsab_english": Corpus("sentiment/umsab_english",
                            {s: (f"{s}_text.txt", f"{s}_labels.txt")
                             for s in ("train", "val", "test")},
                            ("negative", "neutral", "positive"),
                            "github.com/cardiffnlp/xlm-t data/sentiment/english"),
    "tweeteval_sentiment": Corpus("sentiment/tweeteval_sentiment",
                                  {s: (f"{s}_text.txt", f"{s}_labels.txt")
                                   for s in ("val", "test")},
                                  ("negative", "neutral", "positive"),
                                  "github.com/cardiffnlp/tweeteval datasets/sentiment"),
}


def corpus_dir(name: str, root: str | None = None) -> Path:
    """The folder of corpus ``name``: ``root`` itself when given, else under the data dir."""
    if name not in CORPORA:
        raise ConfigError(f"unknown sentiment corpus {name!r}; choose one of {sorted(CORPORA)}")
    if root:
        return Path(root).expanduser()
    base = os.environ.get(DATA_DIR_ENV)
    if not base:
        raise DataMissingError(
            f"no data folder for corpus {name}: set {DATA_DIR_ENV} to the folder holding "
            f"'{CORPORA[name].subdir}/' (export {DATA_DIR_ENV}=/path/to/data), or pass "
            f"data.source.root=/path/to/data/{CORPORA[name].subdir}")
    return Path(base).expanduser() / CORPORA[name].subdir


def read_corpus(name: str, root: str | None = None) -> dict[str, tuple[list[str], list[int]]]:
    """``split -> (texts, labels)`` of corpus ``name`` as its files define the splits."""
    folder = corpus_dir(name, root)
    corpus = CORPORA[name]
    missing = [f for fs in corpus.files.values() for f in fs if not (folder / f).is_file()]
    if missing:
        raise DataMissingError(
            f"corpus {name}: {len(missing)} file(s) missing in {folder}: {', '.join(missing)}. "
            f"Get them from {corpus.url} and put them there, or point {DATA_DIR_ENV} (or "
            f"data.source.root) at a folder holding them")
    out = {}
    for split, files in corpus.files.items():
        if len(files) == 1:
            texts, labels = _read_tsv(folder / files[0])
        else:
            texts = [_unescape(t).strip() for t in
                     (folder / files[0]).read_text(encoding="utf-8").splitlines()]
            labels = [_label(t, folder / files[1], i + 1) for i, t in
                      enumerate((folder / files[1]).read_text().split())]
        if len(texts) != len(labels):
            raise DataFormatError(f"corpus {name} {split}: {len(texts)} texts but {len(labels)} "
                                  f"labels in {folder}; the files must be line-aligned")
        if not texts:
            raise DataFormatError(f"corpus {name} {split}: {folder / files[0]} holds no rows; "
                                  f"restore the file from {corpus.url}")
        bad = sorted({y for y in labels if not 0 <= y < len(corpus.classes)})
        if bad:
            raise DataFormatError(f"corpus {name} {split}: labels {bad} outside "
                                  f"0..{len(corpus.classes) - 1} in {folder / files[-1]}")
        out[split] = (texts, labels)
    return out


def _label(value, path: Path, row: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DataFormatError(f"{path} row {row}: label {value!r} is not a whole number; each "
                              "row must be '<text><TAB><label>'") from None


def _read_tsv(path: Path) -> tuple[list[str], list[int]]:
    """``(texts, labels)`` of a ``sentence<TAB>label`` file with that header."""
    with open(path, newline="", encoding="utf-8") as fh:
        # QUOTE_NONE: SST-2 sentences contain bare quote characters.
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        if reader.fieldnames is None or not {"sentence", "label"} <= set(reader.fieldnames):
            raise DataFormatError(f"{path}: header {reader.fieldnames} lacks the columns "
                                  "'sentence' and 'label'; the first line must be "
                                  "'sentence<TAB>label'")
        texts, labels = [], []
        for row in reader:
            line = reader.line_num
            if row["sentence"] is None or row["label"] is None:
                raise DataFormatError(f"{path} line {line}: expected '<text><TAB><label>', got "
                                      "fewer columns")
            texts.append(row["sentence"].strip())
            labels.append(_label(row["label"], path, line))
    return texts, labels


class SentimentCorpusSource:
    """A sentiment corpus as a graph of ``post`` nodes with its official split.

    TweetEval's train texts are not distributed here, so its ``train`` split is the official
    val set minus a fixed ``holdout`` fraction that serves as validation; test is the official
    test set. Its scores are therefore not comparable to published TweetEval numbers.

    Args:
        name: ``sst2``, ``umsab_english`` or ``tweeteval_sentiment``.
        root: the corpus folder itself; defaults to ``$GRAPHREC_DATA_DIR/<corpus subdir>``.
        holdout: TweetEval only: fraction of its val set held out for validation.
        max_train: keep a fixed random subset (seed 0) of this many train texts; ``None``: all.
            For encoders too slow to embed a whole train split on the machine at hand; val and
            test are never subsampled.
    """

    def __init__(self, name: str, root: str | None = None, holdout: float = 0.2,
                 max_train: int | None = None):
        if name not in CORPORA:
            raise ConfigError(f"unknown sentiment corpus {name!r}; choose one of {sorted(CORPORA)}")
        self.name, self.root, self.holdout, self.max_train = name, root, holdout, max_train

    def splits(self) -> dict[str, tuple[list[str], list[int]]]:
        data = read_corpus(self.name, self.root)
        if "train" in data:
            return self._subsample(data)
        texts, labels = data["val"]
        # Fixed (seed 0) so every run validates on the same tweets whatever the training seed.
        perm = torch.randperm(len(texts), generator=torch.Generator().manual_seed(0)).tolist()
        n_val = int(round(len(texts) * self.holdout))
        pick = {"val": perm[:n_val], "train": perm[n_val:]}
        return self._subsample(
            {"train": ([texts[i] for i in pick["train"]], [labels[i] for i in pick["train"]]),
             "val": ([texts[i] for i in pick["val"]], [labels[i] for i in pick["val"]]),
             "test": data["test"]})

    def _subsample(self, data: dict) -> dict:
        texts, labels = data["train"]
        if self.max_train is None or self.max_train >= len(texts):
            return data
        perm = torch.randperm(len(texts), generator=torch.Generator().manual_seed(0))
        keep = sorted(perm[: self.max_train].tolist())
        return {**data, "train": ([texts[i] for i in keep], [labels[i] for i in keep])}

    def __call__(self) -> HeteroData:
        parts = self.splits()
        texts, labels, split = [], [], []
        for s, name in enumerate(("train", "val", "test")):
            texts += parts[name][0]
            labels += parts[name][1]
            split += [s] * len(parts[name][0])
        split = torch.tensor(split)
        data = HeteroData()
        data["post"].text = texts
        data["post"].y = torch.tensor(labels, dtype=torch.long)
        for s, name in enumerate(("train", "val", "test")):
            data["post"][f"{name}_mask"] = split == s
        data["post"].num_nodes = len(texts)
        return data


def sample_texts_by_label(names: str | list[str], labels: torch.Tensor, generator: torch.Generator,
                          root: str | None = None) -> list[str]:
    """One distinct corpus sentence per wanted label, drawn without replacement.

    Texts of all the corpora's splits are pooled (the graph makes its own split) and
    deduplicated, so no sentence appears twice, i.e. none can sit in both train and test.

    Args:
        names: corpus name or names; all must share the label set of ``labels``.
        labels: ``[P]`` wanted class per post.
        generator: seeded randomness of the draw.
        root: folder holding the corpora's subfolders; defaults to ``$GRAPHREC_DATA_DIR``.

    Raises:
        ConfigError: a class has fewer distinct sentences than posts that want it.
    """
    names = [names] if isinstance(names, str) else list(names)
    pool: dict[str, int] = {}
    classes = None
    for name in names:
        if name not in CORPORA:
            raise ConfigError(f"unknown sentiment corpus {name!r}; choose from {sorted(CORPORA)}")
        if classes is not None and CORPORA[name].classes != classes:
            raise ConfigError(f"corpora {names} have different label sets; pick ones that agree")
        classes = CORPORA[name].classes
        folder = Path(root).expanduser() / CORPORA[name].subdir if root else None
        for texts, ys in read_corpus(name, folder).values():
            for t, y in zip(texts, ys):
                pool.setdefault(t, y)  # a sentence seen twice keeps its first label
    num_classes = int(labels.max()) + 1 if labels.numel() else 0
    if num_classes > len(classes):
        raise ConfigError(f"posts want {num_classes} classes, corpora {names} have {len(classes)}")
    by_class = [[t for t, y in pool.items() if y == c] for c in range(len(classes))]
    out = [""] * labels.numel()
    for c, texts in enumerate(by_class):
        want = torch.nonzero(labels == c).squeeze(1)
        if want.numel() > len(texts):
            raise ConfigError(
                f"{want.numel()} posts want a '{classes[c]}' sentence but corpora {names} have "
                f"only {len(texts)} distinct ones; use fewer users or posts_per_user, or add a "
                "corpus to real_text")
        pick = torch.randperm(len(texts), generator=generator)[: want.numel()]
        for i, j in zip(want.tolist(), pick.tolist()):
            out[i] = texts[j]
    return out
