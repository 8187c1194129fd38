"""OGB link-prediction datasets (ogbl-collab, -citation2, -ddi, -ppa) with their official splits.

Read by ``ogb``'s own ``PygLinkPropPredDataset`` from a local root, never downloaded: every
file the loader reads is checked first, and the loader's ``download`` is replaced by a
:class:`DataMissingError`. (The stock loader downloads whenever a raw file is missing, and
asks on stdin when the ``RELEASE_v*.txt`` marker is absent; both would hang or reach the
network.)

The source supplies its own split through :meth:`OgbLinkSource.split_links`, which the
datamodule calls instead of splitting at random: official train/valid/test positives, and
the official negatives (citation2: 1,000 per source, used as the ranking negatives; collab,
ddi, ppa: one shared set, scored by ``ogb.linkproppred.Evaluator`` as ``ogb_hits@K``; their
per-positive ranking negatives are drawn uniformly by graphrec as for other data).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch_geometric.data import HeteroData

from graphrec.data.splits import TRAIN, VAL, LinkSplit, _negatives
from graphrec.utils.errors import DataMissingError

DATA_DIR_ENV = "GRAPHREC_DATA_DIR"
OGB_URL = "https://ogb.stanford.edu/docs/linkprop/"


@dataclass(frozen=True)
class OgbSpec:
    node_type: str
    relation: str
    undirected: bool
    split: str  # folder under split/
    node_files: tuple[str, ...] = ()  # raw/<name>.csv.gz besides edge, num-node/edge-list
    edge_files: tuple[str, ...] = ()


SPECS = {
    "ogbl-collab": OgbSpec("author", "collaborates", True, "time", ("node-feat",),
                           ("edge_weight", "edge_year")),
    "ogbl-citation2": OgbSpec("paper", "cites", False, "time", ("node-feat", "node_year")),
    "ogbl-ddi": OgbSpec("drug", "interacts", True, "target"),
    "ogbl-ppa": OgbSpec("protein", "associated", True, "throughput", ("node-feat",)),
}


def _pyg_dataset_class():
    from ogb.linkproppred import PygLinkPropPredDataset

    class OfflineOgbLink(PygLinkPropPredDataset):
        """ogb's loader with downloading replaced by an error."""

        def download(self) -> None:
            raise DataMissingError(
                f"{self.name}: raw files missing in {self.raw_dir}; graphrec never downloads "
                f"data. Get {self.meta_info['url']} and unzip it into {self.original_root}")

    return OfflineOgbLink


def _trusted_globals() -> list:
    """Classes ogb's ``torch.load`` calls meet: PyG's stores in the ``processed/`` file ogb
    itself writes, and numpy arrays in the split files (torch >= 2.6 loads weights only)."""
    import numpy as np
    from numpy._core.multiarray import _reconstruct
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import GlobalStorage

    dtypes = [type(np.dtype(t)) for t in ("int64", "int32", "float32", "float64", "bool")]
    # Files pickled under numpy 1 name the same function by its old module path.
    return [DataEdgeAttr, DataTensorAttr, GlobalStorage, np.ndarray, np.dtype, _reconstruct,
            (_reconstruct, "numpy.core.multiarray._reconstruct"), *dtypes]


@dataclass
class OfficialLinkSplit(LinkSplit):
    """A :class:`LinkSplit` carrying what the official evaluator needs per split."""

    official: dict = field(default_factory=dict)

    def official_targets(self, split: str) -> dict:
        """Extra entries of the split's targets: the dataset name and shared negatives."""
        out = {"ogb": self.official["name"]}
        if f"{split}_shared_neg" in self.official:
            out["ogb_neg"] = self.official[f"{split}_shared_neg"]
        return out


class OgbLinkSource:
    """An OGB link dataset as a one-relation ``HeteroData`` with its official split.

    Args:
        name: ``ogbl-collab``, ``ogbl-citation2``, ``ogbl-ddi`` or ``ogbl-ppa``.
        root: folder holding ``<name with _>/`` as ogb lays it out (``raw/``, ``split/``,
            ``RELEASE_v1.txt``); defaults to ``$GRAPHREC_DATA_DIR/ogb``. ogb writes
            ``processed/`` beside ``raw/`` on first use, so it must be writable.
        val_as_input: collab's rule: validation edges are message-passing input at test time
            (they never are for validation itself). Off, the test graph holds train edges only.
        features: attach the node features ``x`` (collab, citation2, ppa).
    """

    def __init__(self, name: str, root: str | None = None, val_as_input: bool = False,
                 features: bool = True):
        if name not in SPECS:
            raise ValueError(f"unknown OGB link dataset {name!r}; pick one of {sorted(SPECS)}")
        self.name, self.spec = name, SPECS[name]
        self.root, self.val_as_input, self.features = root, val_as_input, features
        self._split: dict | None = None

    @property
    def folder(self) -> Path:
        if self.root:
            base = Path(self.root).expanduser()
        elif os.environ.get(DATA_DIR_ENV):
            base = Path(os.environ[DATA_DIR_ENV]).expanduser() / "ogb"
        else:
            raise DataMissingError(
                f"no data folder for {self.name}: set {DATA_DIR_ENV} (data is read from "
                f"$GRAPHREC_DATA_DIR/ogb/{self.name.replace('-', '_')}/) or data.source.root")
        return base

    def expected_files(self) -> list[str]:
        """Every file the loader reads, relative to ``root``."""
        d = self.name.replace("-", "_")
        raw = ["edge", "num-node-list", "num-edge-list", *self.spec.node_files,
               *self.spec.edge_files]
        return [f"{d}/RELEASE_v1.txt", *(f"{d}/raw/{f}.csv.gz" for f in raw),
                *(f"{d}/split/{self.spec.split}/{s}.pt" for s in ("train", "valid", "test"))]

    def _require(self, root: Path) -> None:
        d = root / self.name.replace("-", "_")
        if (d / "split" / self.spec.split / "split_dict.pt").is_file():
            expected = [f for f in self.expected_files() if "/split/" not in f]
        else:
            expected = self.expected_files()
        missing = [f for f in expected if not (root / f).is_file()]
        if missing:
            raise DataMissingError(
                f"{self.name}: {len(missing)} file(s) missing under {root}: "
                f"{', '.join(missing)}. Download the dataset zip ({OGB_URL}; ogb's "
                f"PygLinkPropPredDataset('{self.name}') fetches it on a machine with network) "
                f"and unzip it so that {d}/ holds raw/, split/ and RELEASE_v1.txt, or point "
                f"{DATA_DIR_ENV} (or data.source.root) at a folder holding {d.name}/")

    def __call__(self) -> HeteroData:
        root = self.folder
        self._require(root)
        with torch.serialization.safe_globals(_trusted_globals()):
            dataset = _pyg_dataset_class()(name=self.name, root=str(root))
            data = dataset[0]
            self._split = dataset.get_edge_split()
        nt, n = self.spec.node_type, int(data.num_nodes)
        graph = HeteroData()
        graph[nt].num_nodes = n
        if self.features and data.x is not None:
            graph[nt].x = data.x.float()
        # ogb's graph holds the training edges (both directions where undirected).
        edges, split = data.edge_index, torch.full((data.edge_index.size(1),), TRAIN)
        if self.val_as_input:
            val = self._pairs("valid")
            if self.spec.undirected:
                val = torch.cat([val, val.flip(0)], 1)
            edges = torch.cat([edges, val], 1)
            split = torch.cat([split, torch.full((val.size(1),), VAL)])
        store = graph[nt, self.spec.relation, nt]
        store.edge_index = edges
        store.edge_split = split  # which split each stored edge belongs to (read by the split)
        return graph

    def _pairs(self, split: str) -> torch.Tensor:
        s = self._split[split]
        if "edge" in s:
            return torch.as_tensor(s["edge"]).long().t()
        return torch.stack([torch.as_tensor(s["source_node"]), torch.as_tensor(s["target_node"])
                            ]).long()

    def split_links(self, graph: HeteroData, edge_type, symmetric: bool, num_negatives: int,
                    generator: torch.Generator) -> OfficialLinkSplit:
        """The official split as a :class:`LinkSplit` (the datamodule's hook)."""
        if self._split is None:
            raise RuntimeError("call the source (load the graph) before splitting it")
        n = graph[edge_type[0]].num_nodes
        store = graph[edge_type]
        ei, edge_split = store.edge_index, store.edge_split
        a, b = (torch.minimum(ei[0], ei[1]), torch.maximum(ei[0], ei[1])) if symmetric else ei
        is_train = edge_split == TRAIN
        uniq, inv = torch.unique((a * n + b)[is_train], return_inverse=True)
        edge_pair = torch.full_like(edge_split, -1)
        edge_pair[is_train] = inv
        train = torch.stack([uniq // n, uniq % n])
        val, test = self._pairs("valid"), self._pairs("test")
        known = torch.unique(torch.cat([uniq, *(self._keys(p, n, symmetric) for p in (val, test))]))
        official = {"name": self.name}
        negs = {}
        for key, pos in (("valid", val), ("test", test)):
            s = self._split[key]
            name = "val" if key == "valid" else "test"
            if "target_node_neg" in s:  # citation2: the official per-source negatives
                negs[name] = torch.as_tensor(s["target_node_neg"]).long()
            else:
                negs[name] = _negatives(pos, n, num_negatives, known, symmetric, generator)
                official[f"{name}_shared_neg"] = torch.as_tensor(s["edge_neg"]).long().t()
        return OfficialLinkSplit(edge_type, train, val, test, negs["val"], negs["test"],
                                 edge_split, None, edge_pair, None, official=official)

    @staticmethod
    def _keys(pairs: torch.Tensor, n: int, symmetric: bool) -> torch.Tensor:
        a, b = pairs
        if symmetric:
            a, b = torch.minimum(a, b), torch.maximum(a, b)
        return a * n + b
