"""On-disk cache of frozen text embeddings, keyed by the encoder and a hash of the texts.

Frozen encoders are deterministic, so embeddings computed once can be reused by every later run
on the same texts; a changed text (or order, or model) changes the key and is re-encoded.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm


def default_cache_dir() -> Path:
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "graphrec" / "text"


def texts_key(model_id: str, texts: Sequence[str]) -> str:
    """SHA-256 of the model id and the texts in order (each length-prefixed, so no two lists
    of texts share a byte stream)."""
    h = hashlib.sha256(model_id.encode())
    for t in texts:
        b = t.encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()[:32]


class EmbeddingCache:
    """Encodes texts in batches (with a progress bar) unless a cached copy exists.

    Args:
        encode_batch: ``list[str] -> FloatTensor [len, dim]``; called only on a cache miss.
        model_id: what identifies the encoder's output (name, version, options).
        cache_dir: folder of cached ``.pt`` files; ``None``: ``~/.cache/graphrec/text``.
        batch_size: texts per ``encode_batch`` call (one progress-bar step).
        name: readable prefix of the cache files (default: from ``model_id``).
    """

    def __init__(self, encode_batch: Callable[[list[str]], torch.Tensor], model_id: str,
                 cache_dir: str | Path | None = None, batch_size: int = 2048,
                 name: str | None = None):
        self.encode_batch, self.model_id = encode_batch, model_id
        self.name = name or model_id
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.batch_size = batch_size
        self.last_hit: bool | None = None

    def path(self, texts: Sequence[str]) -> Path:
        # Readable prefix; the hash alone makes the name unique.
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.name)[-60:]
        return self.cache_dir / f"{slug}-{texts_key(self.model_id, texts)}.pt"

    def __call__(self, texts: Sequence[str]) -> torch.Tensor:
        path = self.path(texts)
        if path.is_file():
            try:
                emb = torch.load(path, map_location="cpu", weights_only=True)
            except Exception:  # noqa: BLE001 - any unreadable file (torn write, foreign
                emb = None  # bytes, pickle error) is just a miss: encode again
            if emb is not None and emb.size(0) == len(texts):
                self.last_hit = True
                return emb
        self.last_hit = False
        texts = list(texts)
        # Each finished batch is kept until the whole file is written, so an interrupted run
        # resumes where it stopped instead of encoding everything again.
        parts = path.with_name(f"{path.stem}.parts-{self.batch_size}")
        parts.mkdir(parents=True, exist_ok=True)
        chunks = []
        for i in tqdm(range(0, len(texts), self.batch_size), desc="encoding texts",
                      unit="batch", mininterval=5):
            part = parts / f"{i // self.batch_size}.pt"
            chunk = None
            if part.is_file():
                try:
                    chunk = torch.load(part, map_location="cpu", weights_only=True)
                except Exception:  # noqa: BLE001 - a torn part is encoded again
                    chunk = None
            if chunk is None or chunk.size(0) != len(texts[i:i + self.batch_size]):
                chunk = self.encode_batch(texts[i:i + self.batch_size]).float()
                _save(chunk, part)
            chunks.append(chunk)
        emb = torch.cat(chunks) if chunks else torch.zeros(0, 0)
        _save(emb, path)
        for part in parts.glob("*.pt"):
            part.unlink()
        parts.rmdir()
        return emb


def _save(tensor: torch.Tensor, path: Path) -> None:
    # Write then rename, so a concurrent or interrupted run never reads half a file.
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    torch.save(tensor, tmp)
    os.replace(tmp, path)
