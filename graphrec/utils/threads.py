"""How many threads graphrec's own hot loops use: the cores that no other process is using.

PyTorch's CPU ops split work over an OpenMP pool of ``torch.get_num_threads()`` threads and
wait for all of them at the end of every op. When another process computes on the same
cores, one of those threads is often descheduled, and every small op waits a time slice
for it: graphrec's sampler (hundreds of small vectorized ops per batch) ran 3x slower at two
threads than at one on a 2-core machine with one busy neighbour, and 1.4x faster when idle.
Neither setting is right everywhere, and users should not have to export a variable.

:class:`ThreadPolicy` reads, at most every ``interval`` seconds, how much CPU the rest of the
machine used since its last look (``/proc/stat`` minus this process's own time from
``/proc/self/stat``) and allows ``round(cores - busy elsewhere)`` threads, never more than
the thread setting it found and never fewer than one. :meth:`ThreadPolicy.limit` applies it
for a block and restores the previous setting after. Written here because neither PyTorch
nor OpenMP adapts the pool to load (``OMP_DYNAMIC`` is not honoured by PyTorch's pool).
Where ``/proc`` is absent (macOS, Windows) the setting is left as it is.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _machine_busy_ticks() -> int | None:
    """Busy CPU ticks of the whole machine since boot (user, nice, system, irq, softirq,
    steal), or None without ``/proc``."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return user + nice + system + irq + softirq + steal


def _own_ticks() -> int | None:
    """CPU ticks used by this process (all its threads; not its children)."""
    try:
        with open("/proc/self/stat") as f:
            # The command name (field 2) may hold spaces; fields after its ')' are fixed.
            rest = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(rest[11]) + int(rest[12])  # utime, stime (fields 14 and 15)


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class ThreadPolicy:
    """Threads for a hot loop: the cores not used by other processes (see module docstring).

    Args:
        interval: seconds between two looks at the machine's load.
        read_machine, read_own, clock: where the tick counts and time come from (tests
            replace them).
    """

    def __init__(self, interval: float = 0.5, read_machine=_machine_busy_ticks,
                 read_own=_own_ticks, clock=time.monotonic):
        self.interval = interval
        self._read_machine, self._read_own, self._clock = read_machine, read_own, clock
        self._last: tuple[float, int, int] | None = None
        self.busy_elsewhere = 0.0  # cores used by other processes at the last look

    def _look(self) -> None:
        now = self._clock()
        # Checked before reading /proc: every batch asks (loader and sampler both), the files
        # are read at most once per interval.
        if self._last is not None and now - self._last[0] < self.interval:
            return
        machine, own = self._read_machine(), self._read_own()
        if machine is None or own is None:
            return
        if self._last is not None:
            then, machine0, own0 = self._last
            ticks = max(0, (machine - machine0) - (own - own0))
            self.busy_elsewhere = ticks / _CLOCK_TICKS / max(now - then, 1e-9)
        self._last = (now, machine, own)

    def threads(self, ceiling: int | None = None) -> int:
        """Threads to use now: ``round(cores - busy elsewhere)``, within ``[1, ceiling]``.

        ``ceiling``: the most allowed (default: the current ``torch.get_num_threads()``).
        """
        ceiling = ceiling or torch.get_num_threads()
        self._look()
        free = available_cores() - self.busy_elsewhere
        return max(1, min(ceiling, round(free)))

    @contextmanager
    def limit(self) -> Iterator[int]:
        """Runs the block with :meth:`threads` threads and restores the setting after."""
        before = torch.get_num_threads()
        n = self.threads(before)
        if n != before:
            torch.set_num_threads(n)
        try:
            yield n
        finally:
            if n != before:
                torch.set_num_threads(before)


class _UnderPolicy:
    """``fn`` run under ``policy.limit()``; a class, not a closure, so worker processes
    started by ``spawn`` can pickle it."""

    def __init__(self, fn, policy: ThreadPolicy):
        self.fn, self.policy = fn, policy

    def __call__(self, *args, **kwargs):
        with self.policy.limit():
            return self.fn(*args, **kwargs)


def follow_load(loader, policy: ThreadPolicy | None):
    """Runs a PyG loader's sampling (``collate_fn``) and batch building (``filter_fn``, which
    also applies its ``transform``) under ``policy``; returns the loader.

    Only data-side work is limited: its results (ids, gathered rows) do not depend on the
    thread count, so runs stay reproducible; the model's own arithmetic never follows
    the load (:func:`step_threads` decides it from the batch). ``policy=None`` (a compiled
    sampler) leaves the loader as it is.
    """
    if policy is None:
        return loader
    loader.collate_fn = _UnderPolicy(loader.collate_fn, policy)
    loader.filter_fn = _UnderPolicy(loader.filter_fn, policy)
    return loader


# Sampled edges (all edge types of a training batch) per model thread: the measured
# break-even of a second thread on a 2-core machine, idle (docs/threads.md). Below it, the
# second thread costs more than it computes: PyTorch's CPU scatter/index_add, which every
# message-passing layer runs forwards and backwards, sorts its index before a parallel sum
# whenever more than one thread is set (0.04 ms at one thread, 0.64 ms at two for 2,000
# edges), and each parallel op pays a wake-up of the sleeping thread.
EDGES_PER_THREAD = 200_000


def step_threads(num_edges: int, ceiling: int | None = None,
                 edges_per_thread: int = EDGES_PER_THREAD) -> int:
    """Threads for a training step over ``num_edges`` edges: one per ``edges_per_thread``,
    within ``[1, ceiling]`` (default ``torch.get_num_threads()``).

    A function of the batch alone, not of the machine's load, so a run stays bitwise
    reproducible at a fixed thread setting.
    """
    ceiling = ceiling or torch.get_num_threads()
    return max(1, min(ceiling, num_edges // edges_per_thread))


def batch_edges(batch) -> int:
    """Edges of every graph in a batch (a PyG ``Data``/``HeteroData``, or dicts, lists and
    tuples of them); 0 where it holds none."""
    if isinstance(batch, dict):
        return sum(batch_edges(v) for v in batch.values())
    if isinstance(batch, (list, tuple)):
        return sum(batch_edges(v) for v in batch)
    num_edges = getattr(batch, "num_edges", None)
    return int(num_edges) if isinstance(num_edges, int) else 0
