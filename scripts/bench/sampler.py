"""Throughput of the pure-torch neighbor sampler through PyG's ``NeighborLoader``.

Builds a uniform random graph, then times full loader iterations (sampling plus PyG's
feature filtering and batch assembly), reporting the median over several repetitions
after warm-up. With ``--compare-compiled`` the compiled sampler (pyg-lib or torch-sparse)
is timed the same way when importable.

The compiled samplers run single-threaded, so ``--threads 1`` is the like-for-like
comparison. On a machine shared with other busy processes, multi-threaded torch ops can
stall while OpenMP threads spin-wait for a descheduled peer; ``--threads 1`` or
``OMP_WAIT_POLICY=PASSIVE`` avoids that.

Example::

    python scripts/bench/sampler.py                      # 200k nodes, 4M edges
    python scripts/bench/sampler.py --num-nodes 2000 --num-edges 40000 --batches 5
    python scripts/bench/sampler.py --sampler compiled --json   # only PyG's compiled one

``--sampler compiled`` does not import graphrec, so it runs in an environment that has
torch-sparse but not graphrec (``scripts/bench/contention.py`` uses it that way).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Iterator

# graphrec's side imports graphrec before torch, as its entry points do, so its thread policy
# (graphrec/__init__.py) applies; the compiled side runs as a plain PyG user's script would.
if "compiled" not in sys.argv:
    import graphrec  # noqa: F401

import torch
import torch_geometric.typing
from torch_geometric.data import Data
from torch_geometric.loader import NeighborLoader
from torch_geometric.sampler import NeighborSampler


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-nodes", type=int, default=200_000)
    parser.add_argument("--num-edges", type=int, default=4_000_000)
    parser.add_argument("--fanout", type=int, nargs="+", default=[15, 10])
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--batches", type=int, default=30, help="batches per timed repetition")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions")
    parser.add_argument("--warmup", type=int, default=3, help="untimed batches first")
    parser.add_argument("--feature-dim", type=int, default=0, help="0: no node features")
    parser.add_argument("--disjoint", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare-compiled", action="store_true")
    parser.add_argument("--sampler", choices=["both", "torch", "compiled"], default="both",
                        help="torch: graphrec's only; compiled: PyG's compiled one only")
    parser.add_argument("--json", action="store_true", help="one JSON line per sampler")
    return parser.parse_args()


def make_graph(args: argparse.Namespace) -> Data:
    generator = torch.Generator().manual_seed(args.seed)
    edge_index = torch.randint(0, args.num_nodes, (2, args.num_edges), generator=generator)
    data = Data(edge_index=edge_index, num_nodes=args.num_nodes)
    if args.feature_dim > 0:
        data.x = torch.randn(args.num_nodes, args.feature_dim, generator=generator)
    return data


def endless(loader: NeighborLoader) -> Iterator[Data]:
    """Batches over as many epochs as needed, so small graphs can be timed too."""
    while True:
        yield from loader


def bench(name: str, data: Data, sampler: NeighborSampler, args: argparse.Namespace,
          **extra) -> dict:
    loader = NeighborLoader(
        data,
        num_neighbors=args.fanout,
        neighbor_sampler=sampler,
        batch_size=args.batch_size,
        shuffle=True,
    )
    policy = getattr(sampler, "thread_policy", None)
    if policy is not None:  # as graphrec's own loaders run it (graphrec.data.minibatch)
        from graphrec.utils.threads import follow_load

        follow_load(loader, policy)
    batches = endless(loader)
    for _ in range(args.warmup):
        next(batches)

    rates, edge_rates = [], []
    for _ in range(args.repeats):
        num_edges = 0
        start = time.perf_counter()
        for _ in range(args.batches):
            num_edges += next(batches).edge_index.size(1)
        elapsed = time.perf_counter() - start
        rates.append(args.batches / elapsed)
        edge_rates.append(num_edges / elapsed)

    result = {"sampler": name, "batches_per_s": round(statistics.median(rates), 3),
              "min": round(min(rates), 3), "max": round(max(rates), 3),
              "edges_per_s": round(statistics.median(edge_rates)),
              "threads": torch.get_num_threads(), **extra}
    if args.json:
        print(json.dumps(result), flush=True)
        return result
    print(
        f"{name:>9}: {statistics.median(rates):7.2f} batches/s, "
        f"{statistics.median(edge_rates) / 1e6:6.2f} M sampled edges/s "
        f"(median of {args.repeats} x {args.batches} batches; "
        f"min-max {min(rates):.2f}-{max(rates):.2f} batches/s)"
    )
    return result


def main() -> None:
    args = parse_args()
    torch.manual_seed(args.seed)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if not args.json:
        print(f"graph: {args.num_nodes:,} nodes, {args.num_edges:,} edges; fan-out "
              f"{args.fanout}, batch size {args.batch_size:,}, disjoint={args.disjoint}, "
              f"{torch.get_num_threads()} torch threads")
    data = make_graph(args)

    if args.sampler in ("both", "torch"):
        from graphrec.data.sampler import TorchNeighborSampler

        start = time.perf_counter()
        sampler = TorchNeighborSampler(data, args.fanout, disjoint=args.disjoint)
        setup = time.perf_counter() - start
        if not args.json:
            print(f"    setup: {setup:.2f} s (CSC conversion)")
        bench("torch", data, sampler, args, setup_s=round(setup, 3))

    if args.compare_compiled or args.sampler == "compiled":
        compiled_available = (torch_geometric.typing.WITH_PYG_LIB
                              or torch_geometric.typing.WITH_TORCH_SPARSE)
        if not compiled_available:
            print(" compiled: skipped, neither pyg-lib nor torch-sparse is importable")
        elif args.disjoint and not torch_geometric.typing.WITH_PYG_LIB:
            print(" compiled: skipped, torch-sparse cannot sample disjoint subgraphs")
        else:
            compiled = NeighborSampler(data, args.fanout, disjoint=args.disjoint)
            bench("compiled", data, compiled, args)


if __name__ == "__main__":
    main()
