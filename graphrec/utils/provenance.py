"""What a result depends on: code version, package versions, seed and data fingerprints."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import torch

NARROW_INTEGERS = (torch.int8, torch.int16, torch.int32)
HASH_BLOCK = 1 << 22

PACKAGES = ("graphrec", "torch", "torch-geometric", "lightning", "hydra-core", "wandb", "ogb")


def fingerprint(*objects) -> str:
    """A short SHA-256 of tensors (nested in dicts, lists, tuples, dataclasses and HeteroData).

    Keys are visited in sorted order, so the hash depends only on content. Integer tensors
    narrower than int64 (ids stored compactly, such as a split's int8 split ids) are hashed
    as their int64 values, so compacting a tensor keeps its fingerprint, and fingerprints
    taken before a field was compacted still match.
    """
    h = hashlib.sha256()

    def visit(obj):
        if torch.is_tensor(obj):
            t = obj.detach().cpu().contiguous()
            dtype = torch.int64 if t.dtype in NARROW_INTEGERS else t.dtype
            h.update(f"{dtype}{tuple(t.shape)}".encode())
            if dtype != t.dtype:  # widened a block at a time: no int64 copy of it all
                for block in t.reshape(-1).split(HASH_BLOCK):
                    h.update(block.to(dtype).numpy())
            elif t.numel():
                h.update(t.numpy().reshape(-1))  # the buffer itself, not a bytes copy
        elif hasattr(obj, "to_dict"):  # PyG Data / HeteroData
            visit(obj.to_dict())
        elif hasattr(obj, "__dataclass_fields__"):
            visit({k: getattr(obj, k) for k in obj.__dataclass_fields__})
        elif isinstance(obj, dict):
            for k in sorted(obj, key=str):
                h.update(str(k).encode())
                visit(obj[k])
        elif isinstance(obj, (list, tuple)):
            for item in obj:
                visit(item)
        else:
            h.update(repr(obj).encode())

    for obj in objects:
        visit(obj)
    return h.hexdigest()[:16]


def git_state(path: Path | None = None) -> dict:
    """The commit of the code and whether the work tree had uncommitted changes."""
    cwd = path or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, check=True, timeout=10).stdout
        return {"commit": sha, "dirty": bool(dirty.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def package_versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def provenance(seed: int, data_fingerprint: str, split_fingerprint: str) -> dict:
    return {
        "git": git_state(),
        "packages": package_versions(),
        "seed": seed,
        "data_fingerprint": data_fingerprint,
        "split_fingerprint": split_fingerprint,
        "host": platform.node(),
    }
