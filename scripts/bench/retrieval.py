"""Benchmark full-catalogue top-K retrieval and the link-prediction heuristics.

Retrieval: ``topk_retrieval`` (known positives excluded) against the bare chunked matrix
product + topk with the same chunk size, alternated in one process so both see the same
machine state; reports median seconds, their ratio and the peak extra RSS of each call.
Heuristics: seconds per score on a random graph. Katz and PPR cost grows with the number
of distinct query sources, so they run on the first ``--walk-pairs`` pairs and the time
for all pairs is extrapolated from the number of distinct sources.

Full size (tens of minutes on 2 cores):
    python scripts/bench/retrieval.py
Quick:
    python scripts/bench/retrieval.py --queries 2000 --candidates 100000 --graph-edges 100000

``--json`` adds one JSON line of the figures at the end (``scripts/bench/all.py`` reads it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import warnings

import psutil
import torch

from graphrec.metrics.retrieval import topk_retrieval
from graphrec.models.heuristics import HEURISTICS, Adjacency

GIB = 1024**3


class PeakRSS:
    """Samples resident memory in a background thread: torch's CPU allocations are not
    visible to tracemalloc, and VmHWM cannot be reset between the compared calls."""

    def __init__(self, interval: float = 0.01):
        self.process, self.interval = psutil.Process(), interval
        self.stop = threading.Event()

    def __enter__(self) -> PeakRSS:
        self.start = self.peak = self.process.memory_info().rss
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.stop.wait(self.interval):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def extra(self) -> int:
        return self.peak - self.start


def bare_topk(query: torch.Tensor, cand: torch.Tensor, k: int, chunk_size: int):
    """The floor: chunked ``query @ cand.T`` and ``topk``, nothing excluded."""
    values = query.new_empty(len(query), k)
    index = torch.empty(len(query), k, dtype=torch.long)
    for start in range(0, len(query), chunk_size):
        end = min(start + chunk_size, len(query))
        values[start:end], index[start:end] = (query[start:end] @ cand.T).topk(k, dim=1)
    return values, index


def bench_retrieval(args: argparse.Namespace) -> dict:
    g = torch.Generator().manual_seed(0)
    query = torch.randn(args.queries, args.dim, generator=g)
    cand = torch.randn(args.candidates, args.dim, generator=g)
    exclude = torch.stack(
        [
            torch.arange(args.queries).repeat_interleave(args.known_positives),
            torch.randint(0, args.candidates, (args.queries * args.known_positives,), generator=g),
        ]
    )
    runs = {
        "bare matmul+topk": lambda: bare_topk(query, cand, args.k, args.chunk_size),
        "topk_retrieval": lambda: topk_retrieval(query, cand, args.k, exclude, args.chunk_size),
    }
    print(
        f"retrieval: {args.queries:,} queries x {args.candidates:,} candidates, "
        f"dim {args.dim}, top-{args.k}, {args.known_positives} exclusions/query, "
        f"chunk {args.chunk_size}, {torch.get_num_threads()} threads"
    )
    seconds = {name: [] for name in runs}
    peaks = {name: 0 for name in runs}
    names = list(runs)
    for rep in range(args.repeats):
        for name in names if rep % 2 == 0 else names[::-1]:  # alternate the order
            with PeakRSS() as mem:
                start = time.perf_counter()
                result = runs[name]()
                seconds[name].append(time.perf_counter() - start)
            del result
            peaks[name] = max(peaks[name], mem.extra)
            print(
                f"  rep {rep}: {name:<17} {seconds[name][-1]:8.2f} s  "
                f"peak extra RSS {mem.extra / GIB:.2f} GiB",
                flush=True,
            )
    medians = {name: statistics.median(times) for name, times in seconds.items()}
    for name in names:
        print(
            f"  median {name:<17} {medians[name]:8.2f} s  "
            f"max peak extra RSS {peaks[name] / GIB:.2f} GiB"
        )
    ratio = medians["topk_retrieval"] / medians["bare matmul+topk"]
    print(f"  ratio topk_retrieval / bare: {ratio:.3f}x (target <= 1.5x, memory < 2 GiB)")
    return {"queries": args.queries, "candidates": args.candidates, "repeats": args.repeats,
            "topk_s": round(medians["topk_retrieval"], 3),
            "bare_s": round(medians["bare matmul+topk"], 3), "ratio": round(ratio, 4),
            "topk_peak_extra_gib": round(peaks["topk_retrieval"] / GIB, 3),
            "bare_peak_extra_gib": round(peaks["bare matmul+topk"] / GIB, 3)}


def bench_heuristics(args: argparse.Namespace) -> dict:
    g = torch.Generator().manual_seed(1)
    n = args.graph_nodes
    edge_index = torch.randint(0, n, (2, args.graph_edges), generator=g)
    pairs = torch.randint(0, n, (2, args.pairs), generator=g)
    walk_pairs = pairs[:, : args.walk_pairs]
    print(
        f"heuristics: {n:,} nodes, {args.graph_edges:,} undirected edges, "
        f"{args.pairs:,} query pairs"
    )
    start = time.perf_counter()
    adj = Adjacency.from_edge_index(edge_index, n)
    out = {"build_s": round(time.perf_counter() - start, 3)}
    print(f"  adjacency build          {out['build_s']:8.2f} s")
    all_sources = len(torch.unique(pairs[0]))
    walk_sources = len(torch.unique(walk_pairs[0]))
    for name, fn in HEURISTICS.items():
        propagates = name in ("katz", "ppr")
        start = time.perf_counter()
        fn(adj, walk_pairs if propagates else pairs)
        elapsed = time.perf_counter() - start
        out[name] = round(elapsed * (all_sources / walk_sources if propagates else 1), 3)
        line = f"  {name:<24} {elapsed:8.2f} s"
        if propagates:
            line += (
                f" for {walk_pairs.size(1):,} pairs ({walk_sources:,} sources); "
                f"~{elapsed * all_sources / walk_sources:,.0f} s for all "
                f"{args.pairs:,} pairs ({all_sources:,} sources)"
            )
        print(line, flush=True)
    return out  # seconds for all pairs, katz and ppr extrapolated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("all", "retrieval", "heuristics"), default="all")
    parser.add_argument("--queries", type=int, default=100_000)
    parser.add_argument("--candidates", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--chunk-size", type=int, default=128)
    parser.add_argument("--known-positives", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--graph-nodes", type=int, default=100_000)
    parser.add_argument("--graph-edges", type=int, default=1_000_000)
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--walk-pairs", type=int, default=1_000)
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    args = parser.parse_args()
    # torch announces the beta status of sparse CSR tensors; it is noise in a benchmark.
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    out = {"bench": "retrieval"}
    if args.part in ("all", "retrieval"):
        out["retrieval"] = bench_retrieval(args)
    if args.part in ("all", "heuristics"):
        out["heuristics"] = bench_heuristics(args)
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
