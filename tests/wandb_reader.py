"""Reads an offline W&B run file (``run-<id>.wandb``) back into protobuf records.

The file is a LevelDB-style log (a 7-byte header, then 32 KiB blocks of length-prefixed
chunks); the installed wandb no longer ships a Python reader for it, so tests parse it here.
"""

from __future__ import annotations

import struct
from pathlib import Path

from wandb.proto import wandb_internal_pb2 as pb

HEADER_LEN, BLOCK_LEN, CHUNK_HEADER = 7, 32768, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def read_records(path: Path) -> list:
    raw = Path(path).read_bytes()
    assert raw[:4] == b":W&B", f"{path} is not a W&B run file"
    records, pos, parts = [], HEADER_LEN, []
    while pos + CHUNK_HEADER <= len(raw):
        left = BLOCK_LEN - pos % BLOCK_LEN
        if left < CHUNK_HEADER:  # block trailer padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", raw[pos:pos + CHUNK_HEADER])
        data = raw[pos + CHUNK_HEADER:pos + CHUNK_HEADER + length]
        pos += CHUNK_HEADER + length
        if kind == 0 and length == 0:
            break
        parts.append(data)
        if kind in (FULL, LAST):
            rec = pb.Record()
            rec.ParseFromString(b"".join(parts))
            records.append(rec)
            parts = []
    return records


def finished_records(path: Path, timeout: float = 15.0) -> list:
    """The run file's records once its exit record is written.

    ``wandb.finish()`` can return while the offline writer is still flushing the last
    records, so reading at once may miss them; the exit record is written last.
    """
    import time

    deadline = time.monotonic() + timeout
    while True:
        records = read_records(path)
        if any(r.WhichOneof("record_type") == "exit" for r in records):
            return records
        if time.monotonic() > deadline:
            return records
        time.sleep(0.2)


def run_contents(path: Path) -> dict:
    """``{"config": {...}, "history": [{...}], "summary": {...}}`` with JSON-decoded values."""
    import json

    out = {"config": {}, "history": [], "summary": {}}
    for r in finished_records(path):
        kind = r.WhichOneof("record_type")
        # Config arrives in config records and, depending on timing, inside the run record.
        if kind in ("config", "run"):
            for u in (r.config.update if kind == "config" else r.run.config.update):
                out["config"][u.key] = json.loads(u.value_json)
        elif kind == "history":
            out["history"].append({i.key or "/".join(i.nested_key): json.loads(i.value_json)
                                   for i in r.history.item})
        elif kind == "summary":
            for u in r.summary.update:
                out["summary"][u.key or "/".join(u.nested_key)] = json.loads(u.value_json)
    return out
