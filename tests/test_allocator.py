"""Freed tensors return to the system once graphrec fixes glibc's mmap threshold."""

import subprocess
import sys

import pytest

from graphrec.utils.allocator import _libc

# One freed 16 MiB tensor raises glibc's dynamic threshold above 4 MiB; 64 tensors of 4 MiB,
# each followed by a small live one, then land on the heap, and freeing them leaves 256 MiB
# resident. Prints the resident growth in MiB after they are freed.
SCRIPT = """
import sys, psutil, torch
if sys.argv[1] == "fixed":
    from graphrec.utils.allocator import map_large_allocations
    assert map_large_allocations()
p = psutil.Process()
torch.ones(16 << 20, dtype=torch.uint8)
base = p.memory_info().rss
blocks, pins = [], []
for _ in range(64):
    blocks.append(torch.ones(4 << 20, dtype=torch.uint8))
    pins.append(torch.ones(1 << 10, dtype=torch.uint8))
del blocks
print((p.memory_info().rss - base) / 2**20)
"""


def _growth(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True,
                         check=True, timeout=120)
    return float(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(_libc() is None, reason="glibc's mallopt only")
def test_freed_tensors_leave_the_process_with_a_fixed_threshold():
    assert _growth("dynamic") > 128  # the problem: freed space stays resident
    assert _growth("fixed") < 32
