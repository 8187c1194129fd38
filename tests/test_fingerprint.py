"""Data and split fingerprints: content only, stable across compact storage of ids."""

import hashlib

import torch

from graphrec.data.splits import LinkSplit
from graphrec.utils.provenance import fingerprint


def _sha_of_int64_bytes(t: torch.Tensor) -> str:
    """The hash as fingerprints were taken before ids were stored compactly."""
    h = hashlib.sha256()
    h.update(f"{t.dtype}{tuple(t.shape)}".encode())
    h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def test_compact_integer_ids_keep_the_int64_fingerprint():
    ids = torch.tensor([[0, 2, -1, 1], [5, 7, 2**20, 3]])
    assert fingerprint(ids) == _sha_of_int64_bytes(ids)
    assert fingerprint(ids.int()) == fingerprint(ids)
    assert fingerprint(torch.tensor([-3, 300], dtype=torch.int16)) == \
        fingerprint(torch.tensor([-3, 300]))
    assert fingerprint(torch.tensor([0, 1, 2], dtype=torch.int8)) == \
        fingerprint(torch.tensor([0, 1, 2]))
    # Widened in blocks: a tensor longer than one block hashes as its int64 copy does.
    long = torch.randint(-5, 5, (3 * 2**22 + 7,))
    assert fingerprint(long.to(torch.int8)) == _sha_of_int64_bytes(long)
    # Content still counts: one changed id, or a transposed shape, is another fingerprint.
    other = ids.clone()
    other[1, 3] = 4
    assert fingerprint(other.int()) != fingerprint(ids)
    assert fingerprint(ids.t().contiguous()) != fingerprint(ids)
    # Floats and bools hash their own bytes, as before.
    x = torch.randn(4, 3)
    assert fingerprint(x) == _sha_of_int64_bytes(x)
    assert fingerprint(x.double()) != fingerprint(x)


def test_link_split_stores_split_and_pair_ids_compactly():
    pairs = torch.tensor([[0, 1], [1, 2]])
    ls = LinkSplit(("user", "friends", "user"), pairs, pairs[:, :1], pairs[:, 1:],
                   torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long),
                   torch.tensor([0, 1, 2, 0]), None, torch.tensor([0, -1, -1, 1]), None)
    assert ls.edge_split.dtype == torch.int8 and ls.edge_pair.dtype == torch.int32
    assert ls.edge_split.tolist() == [0, 1, 2, 0] and ls.edge_pair.tolist() == [0, -1, -1, 1]
    wide = {"edge_split": torch.tensor([0, 1, 2, 0]), "edge_pair": torch.tensor([0, -1, -1, 1])}
    assert fingerprint({"edge_split": ls.edge_split, "edge_pair": ls.edge_pair}) == \
        fingerprint(wide)
