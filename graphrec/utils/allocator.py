"""Freed tensors go back to the system: a fixed mmap threshold for glibc's malloc.

PyTorch's CPU tensors come from ``malloc``. glibc serves a request below its *mmap threshold*
from its heaps and a larger one with a mapping of its own, which ``free`` returns to the
system at once. The threshold is dynamic: each time a mapped block is freed, glibc raises
the threshold to that block's size (up to 32 MiB). After the first few large tensors are
freed, every tensor of up to 32 MiB therefore lands on a heap, and a heap only shrinks from
its top. graphrec's data steps and layer-wise evaluation allocate and free many tensors of a
few to tens of MB (masks, sorted copies, per-chunk gathers) between long-lived ones, so freed
space stays resident as holes. Measured on the million-user four-task run
(``scripts/bench/memory.py``, docs/scale.md), the resident set at the start of evaluation was
about 2 GiB above the live tensors with the dynamic threshold, 1.2 GiB with a fixed one
(1 MiB).

:func:`map_large_allocations` fixes the threshold (which also turns off the dynamic raise)
through ``mallopt``, for the whole process: the same effect as exporting
``MALLOC_MMAP_THRESHOLD_``, which users should not need to know about. ``train`` calls it
for mini-batch data, the path to large graphs. Written here because
neither PyTorch nor Python sets it; on systems without glibc (macOS, musl, Windows) it does
nothing.

The threshold is 4 MiB, not lower: each mapping costs a system call and page faults when it
is first written. Measured on the main job (whole process, 3 alternated runs): at 1 MiB,
with the heap also trimmed above 1 MiB, system time rose from 9.9 s to 43.8 s and wall time
1.41x; at 4 MiB alone, one run took 11.5 s of system time (16 MiB: 11.1 s). The training
tests (tests/test_train.py, full-graph runs on small graphs) took 37.2 s with it against
30.8 s without, so full-graph runs keep glibc's default.
"""

from __future__ import annotations

import ctypes
import ctypes.util

# mallopt's parameter, from glibc's malloc.h.
M_MMAP_THRESHOLD = -3
DEFAULT_THRESHOLD = 4 << 20

_applied: int | None = None


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "gnu_get_libc_version") \
            else None
    except OSError:
        return None


def map_large_allocations(threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Serves every allocation of ``threshold`` bytes or more with its own mapping, returned
    to the system when freed.

    Process-wide and idempotent. Returns whether glibc accepted it (False elsewhere).
    """
    global _applied
    if _applied == threshold:
        return True
    libc = _libc()
    if libc is None:
        return False
    ok = libc.mallopt(M_MMAP_THRESHOLD, ctypes.c_int(threshold)) == 1
    if ok:
        _applied = threshold
    return ok
