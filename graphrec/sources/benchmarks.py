"""Real homogeneous benchmark graphs as data sources: Planetoid citations and ego-Facebook.

Each source is a callable with a ``name``, like :class:`graphrec.sources.synthetic.SyntheticSource`:
calling it reads local files and returns a ``HeteroData`` with one node type and one undirected
edge type, stored in both directions, deduplicated and without self loops. Nothing is ever
downloaded: missing files raise :class:`DataMissingError` saying which files, where they were
looked for, and where to get them.

The data folder comes from ``root`` or, when that is not given, from the ``GRAPHREC_DATA_DIR``
environment variable (``$GRAPHREC_DATA_DIR/planetoid/<Name>/raw/``,
``$GRAPHREC_DATA_DIR/ego-facebook/facebook_combined.txt``).
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import HeteroData
from torch_geometric.datasets import Planetoid
from torch_geometric.utils import remove_self_loops, to_undirected

from graphrec.utils.errors import DataFormatError, DataMissingError

DATA_DIR_ENV = "GRAPHREC_DATA_DIR"

# Planetoid names as PyG spells them (and as the data folders are named), by lower-case name.
PLANETOID_NAMES = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}
# The eight pickles PyG's Planetoid reads from ``raw/``, in the order it lists them.
PLANETOID_PARTS = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
PLANETOID_URL = "https://github.com/kimiyoung/planetoid/tree/master/data"

EGO_FACEBOOK_FILE = "facebook_combined.txt"
EGO_FACEBOOK_URL = "https://snap.stanford.edu/data/ego-Facebook.html"

# Written beside the cached raw files: what they were copied from, so a changed source is
# noticed and copied again (PyG would otherwise keep serving its stale processed/ file).
_MANIFEST = "graphrec_source.json"


def _default_root(subdir: str, what: str) -> Path:
    """``$GRAPHREC_DATA_DIR/<subdir>``, or a :class:`DataMissingError` saying how to set it."""
    base = os.environ.get(DATA_DIR_ENV)
    if not base:
        raise DataMissingError(
            f"no data folder for {what}: set the {DATA_DIR_ENV} environment variable to the "
            f"folder holding '{subdir}/' (e.g. export {DATA_DIR_ENV}=/path/to/data), or pass "
            f"data.source.root=/path/to/data/{subdir}"
        )
    return Path(base).expanduser() / subdir


def _undirected(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Both directions of every pair, once each, sorted, without self loops.

    The raw files are not uniformly clean (Planetoid's adjacency lists repeat some pairs and
    hold a few self loops), and the link splitter treats every stored entry as one edge, so
    normalizing here keeps val/test pairs from leaking back into training as duplicates.
    """
    edge_index, _ = remove_self_loops(edge_index)
    return to_undirected(edge_index, num_nodes=num_nodes)


def _homogeneous(node_type: str, relation: str, edge_index: torch.Tensor, num_nodes: int,
                 x: torch.Tensor | None = None) -> HeteroData:
    data = HeteroData()
    if x is not None:
        data[node_type].x = x
    data[node_type].num_nodes = num_nodes
    data[node_type, relation, node_type].edge_index = _undirected(edge_index, num_nodes)
    return data


class PlanetoidSource:
    """A Planetoid citation graph (Cora, CiteSeer, PubMed) for link prediction.

    The graph has one node type ``paper`` (bag-of-words features ``x`` when ``features`` is
    true, otherwise no ``x`` so the model learns an ID embedding per paper) and one undirected
    edge type ``("paper", "cites", "paper")`` stored in both directions.

    With features, the graph is read by PyG's ``Planetoid``. It writes a ``processed/`` folder
    beside ``raw/``, and shared data copies are often read-only, so the raw files are first
    copied to ``cache_dir`` and PyG runs there; the copy is refreshed whenever a source file's
    size or modification time changes. Without features only ``ind.<name>.graph`` is read,
    straight from ``root``, which is what makes PubMed usable when its ``ind.pubmed.allx`` (the
    largest file) is unavailable.

    Args:
        name: ``Cora``, ``CiteSeer`` or ``PubMed`` (any capitalization).
        root: folder holding ``<Name>/raw/ind.<name>.*``; defaults to
            ``$GRAPHREC_DATA_DIR/planetoid``.
        cache_dir: writable folder where ``<Name>/raw`` is copied and PyG writes
            ``<Name>/processed``; defaults to ``~/.cache/graphrec/planetoid``.
        features: attach the node features ``x``; false loads the citation graph alone.

    Raises:
        ValueError: ``name`` is not a Planetoid graph.
        DataMissingError: when called, if the data folder is unknown or files are missing.
    """

    def __init__(self, name: str, root: str | None = None, cache_dir: str | None = None,
                 features: bool = True):
        key = str(name).lower()
        if key not in PLANETOID_NAMES:
            raise ValueError(
                f"unknown Planetoid graph {name!r}; pick one of {sorted(PLANETOID_NAMES.values())}")
        self.dataset = PLANETOID_NAMES[key]
        self.name = key
        self.root = root
        self.cache_dir = cache_dir
        self.features = features

    @property
    def raw_dir(self) -> Path:
        """The source folder the ``ind.<name>.*`` files are read from."""
        root = Path(self.root).expanduser() if self.root else _default_root(
            "planetoid", f"Planetoid {self.dataset}")
        return root / self.dataset / "raw"

    def _files(self, parts) -> list[str]:
        return [f"ind.{self.name}.{part}" for part in parts]

    def _require(self, raw_dir: Path, parts) -> None:
        missing = [f for f in self._files(parts) if not (raw_dir / f).is_file()]
        if not missing:
            return
        hint = ""
        if self.features and (raw_dir / f"ind.{self.name}.graph").is_file():
            # Seen in practice with PubMed: mirrors that cap file sizes drop ind.pubmed.allx,
            # while the citation graph, which is all a feature-less model needs, is there.
            hint = (" The citation graph itself is present: to train without node features "
                    "(learned ID embeddings), set features=False (data.source.features=false).")
        raise DataMissingError(
            f"Planetoid {self.dataset}: {len(missing)} file(s) missing in {raw_dir}: "
            f"{', '.join(missing)}. Get the ind.{self.name}.* files from the data/ folder of "
            f"the Planetoid repository ({PLANETOID_URL}) and put them in {raw_dir}, or point "
            f"{DATA_DIR_ENV} (or data.source.root) at a folder holding "
            f"{self.dataset}/raw/.{hint}"
        )

    def _cache_root(self) -> Path:
        if self.cache_dir:
            return Path(self.cache_dir).expanduser()
        cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(cache_home) / "graphrec" / "planetoid"

    def _sync_cache(self, raw_dir: Path) -> Path:
        """Copies the raw files to the cache unless an identical copy is there; returns its root."""
        cache_root = self._cache_root()
        target = cache_root / self.dataset
        manifest = {"source": str(raw_dir.resolve()), "files": {}}
        for f in self._files(PLANETOID_PARTS):
            st = (raw_dir / f).stat()
            manifest["files"][f] = [st.st_size, st.st_mtime_ns]
        manifest_path = target / _MANIFEST
        try:
            current = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            current = None
        cached = all((target / "raw" / f).is_file() for f in manifest["files"])
        if current == manifest and cached:
            return cache_root
        # A changed source invalidates PyG's processed/ too, so start the folder over.
        shutil.rmtree(target, ignore_errors=True)
        (target / "raw").mkdir(parents=True, exist_ok=True)
        for f in manifest["files"]:
            # copyfile, not copy2: read-only permission bits of the source would otherwise be
            # carried over and block the next refresh of the cache.
            tmp = target / "raw" / f"{f}.tmp"
            shutil.copyfile(raw_dir / f, tmp)
            os.replace(tmp, target / "raw" / f)
        # The manifest goes last, so an interrupted copy is redone on the next call.
        manifest_path.write_text(json.dumps(manifest, indent=1))
        return cache_root

    def _load_graph_only(self, raw_dir: Path) -> HeteroData:
        with open(raw_dir / f"ind.{self.name}.graph", "rb") as fh:
            # Python-2 pickle of a dict: paper id -> list of cited/citing paper ids.
            adjacency = pickle.load(fh, encoding="latin1")
        rows = [u for u, vs in adjacency.items() for _ in vs]
        cols = [v for vs in adjacency.values() for v in vs]
        edge_index = torch.tensor([rows, cols], dtype=torch.long).view(2, -1)
        # Every paper is a key of the dict (isolated ones with an empty list), so the keys
        # count the nodes; the max id guards against a neighbour that is not a key.
        ids = [*adjacency, *cols]
        num_nodes = max(len(adjacency), max(ids) + 1 if ids else 0)
        return _homogeneous("paper", "cites", edge_index, num_nodes)

    def __call__(self) -> HeteroData:
        raw_dir = self.raw_dir
        if not self.features:
            self._require(raw_dir, ("graph",))
            return self._load_graph_only(raw_dir)
        self._require(raw_dir, PLANETOID_PARTS)
        cache_root = self._sync_cache(raw_dir)
        dataset = _OfflinePlanetoid(str(cache_root), self.dataset)
        data = dataset[0]
        return _homogeneous("paper", "cites", data.edge_index, int(data.num_nodes),
                            x=data.x.float())


class _OfflinePlanetoid(Planetoid):
    """PyG's Planetoid that refuses to download: the raw files must already be in place."""

    def download(self) -> None:
        raise DataMissingError(
            f"Planetoid {self.name}: raw files missing in {self.raw_dir} (expected "
            f"{', '.join(self.raw_file_names)}); graphrec never downloads data. Get them from "
            f"{PLANETOID_URL}"
        )


def _first_bad_line(path: Path) -> tuple[int, str]:
    """The first line (1-based) of an edge list that is not two integers, and its text."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        for number, line in enumerate(fh, 1):
            fields = line.split("#", 1)[0].split()
            if fields and (len(fields) != 2 or not all(f.lstrip("-").isdigit() for f in fields)):
                return number, line.rstrip("\n")
    return 0, ""


class EgoFacebookSource:
    """SNAP's ego-Facebook friendship graph (the combined network) for link prediction.

    The graph has one node type ``user`` without features (the model learns an ID embedding
    per user) and one undirected edge type ``("user", "friends", "user")`` stored in both
    directions, which matches the schema's own friendship relation, so the ``friend`` task
    applies as is.

    Args:
        root: folder holding ``facebook_combined.txt`` (a whitespace-separated edge list of
            0-based ids, one undirected pair per line; ``facebook_combined.txt.gz`` as
            downloaded is read too); defaults to ``$GRAPHREC_DATA_DIR/ego-facebook``.

    Raises:
        DataMissingError: when called, if the data folder is unknown or the file is missing.
    """

    name = "ego_facebook"

    def __init__(self, root: str | None = None):
        self.root = root

    @property
    def path(self) -> Path:
        """The edge-list file that will be read (the plain one, else the gzipped one)."""
        root = Path(self.root).expanduser() if self.root else _default_root(
            "ego-facebook", "ego-Facebook")
        plain = root / EGO_FACEBOOK_FILE
        gz = root / f"{EGO_FACEBOOK_FILE}.gz"
        return gz if not plain.is_file() and gz.is_file() else plain

    def __call__(self) -> HeteroData:
        path = self.path
        if not path.is_file():
            raise DataMissingError(
                f"ego-Facebook: {path.name} missing in {path.parent}. Download "
                f"{EGO_FACEBOOK_FILE}.gz from SNAP ({EGO_FACEBOOK_URL}), gunzip it into "
                f"{path.parent}, or point {DATA_DIR_ENV} (or data.source.root) at a folder "
                "holding ego-facebook/"
            )
        fix = "each line must be 'u v', two non-negative integer ids"
        try:
            # ndmin=2 keeps a one-line file two-dimensional; '#' lines (SNAP headers) skipped.
            pairs = np.loadtxt(path, dtype=np.int64, ndmin=2, comments="#")
        except ValueError:
            # numpy counts rows from 0 and skips comments; name the file's own line instead.
            line, text = _first_bad_line(path)
            raise DataFormatError(f"{path} line {line}: {text!r}; {fix}") from None
        if pairs.size == 0:
            raise DataFormatError(f"{path} holds no edges; {fix}")
        if pairs.shape[1] != 2:
            raise DataFormatError(f"{path}: {pairs.shape[1]} column(s) per line; {fix}")
        if (pairs < 0).any():
            row = int(np.nonzero((pairs < 0).any(axis=1))[0][0])
            raise DataFormatError(f"{path}: negative id in edge {row + 1} "
                                  f"({pairs[row, 0]} {pairs[row, 1]}); {fix}")
        edge_index = torch.from_numpy(pairs[:, :2].T.copy()).reshape(2, -1)
        num_nodes = int(edge_index.max()) + 1 if edge_index.numel() else 0
        return _homogeneous("user", "friends", edge_index, num_nodes)
