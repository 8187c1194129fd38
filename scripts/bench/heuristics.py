"""Times every heuristic on a random graph of a million edges and 100k query pairs.

Two pair shapes: ``random`` (uniform pairs, so almost every pair has its own source) and
``eval`` (1,000 sources x 100 candidates, the shape of sampled-ranking evaluation). Katz and
PPR are also timed with dense propagation (the exact ``[N, C]`` block method) on a slice of
the pairs, extrapolated to all of them, so the speed-up is printed side by side; PPR's push
error against power iteration is printed too.

    python scripts/bench/heuristics.py [--nodes 100000] [--edges 1000000] [--pairs 100000]

``--json`` adds one JSON line of every figure at the end (``scripts/bench/all.py`` reads it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from graphrec.models.heuristics import HEURISTICS, Adjacency, katz, ppr


def timed(fn, repeats: int) -> tuple[float, torch.Tensor]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--edges", type=int, default=1_000_000)
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--slice", type=int, default=512, help="pairs timed for the dense methods")
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    args = parser.parse_args()
    torch.manual_seed(0)
    # One intra-op thread: these are many small vectorized steps, and on a shared machine
    # extra threads mostly wait on each other (measured 10-30x slower under load).
    torch.set_num_threads(args.threads)
    edge_index = torch.randint(0, args.nodes, (2, args.edges))
    build, adj = timed(lambda: Adjacency.from_edge_index(edge_index, args.nodes), args.repeats)
    print(f"graph: {args.nodes:,} nodes, {args.edges:,} undirected edges "
          f"({len(adj.keys):,} stored directions); adjacency built in {build:.2f} s "
          f"(median of {args.repeats}); threads {torch.get_num_threads()}")
    out = {"bench": "heuristics", "nodes": args.nodes, "edges": args.edges, "pairs": args.pairs,
           "repeats": args.repeats, "build_s": round(build, 3)}
    shapes = {
        "random": torch.randint(0, args.nodes, (2, args.pairs)),
        "eval": torch.stack([
            torch.randint(0, args.nodes, (args.pairs // 100,)).repeat_interleave(100),
            torch.randint(0, args.nodes, (args.pairs // 100 * 100,))]),
    }
    print(f"\n{'score':<34}{'pairs':>8}{'sources':>9}{'median s':>10}{'pairs/s':>12}")
    for shape, pairs in shapes.items():
        sources = len(torch.unique(pairs[0]))
        out.setdefault("sources", {})[shape] = sources
        out[shape] = {}  # score -> median seconds
        for name, fn in HEURISTICS.items():
            t, _ = timed(lambda fn=fn, pairs=pairs: fn(adj, pairs), args.repeats)
            out[shape][name] = round(t, 5)
            print(f"{name + ' (' + shape + ')':<34}{pairs.size(1):>8,}{sources:>9,}{t:>10.2f}"
                  f"{pairs.size(1) / t:>12,.0f}")

    # Side by side with the dense block methods, extrapolated from a slice of random pairs
    # (their cost grows with the number of distinct sources, ~ one per random pair).
    pairs = shapes["random"]
    part = pairs[:, : args.slice]
    scale = len(torch.unique(pairs[0])) / len(torch.unique(part[0]))
    print(f"\nrandom pairs, dense methods timed on {args.slice} pairs and extrapolated:")
    fast_katz, ref = timed(lambda: katz(adj, pairs), 1)
    dense_katz, dense = timed(lambda: _dense_katz(adj, part), 1)
    assert torch.allclose(ref[: args.slice], dense, rtol=1e-4, atol=1e-6)
    print(f"  katz  path counts {fast_katz:8.2f} s | dense propagation {dense_katz * scale:8.1f} s"
          f" (extrapolated) | speed-up x{dense_katz * scale / fast_katz:,.0f}; same scores")
    fast_ppr, push = timed(lambda: ppr(adj, pairs), 1)
    power_ppr, exact = timed(lambda: ppr(adj, part, method="power"), 1)
    err = (push[: args.slice] - exact).abs()
    print(f"  ppr   push        {fast_ppr:8.2f} s | power iteration   {power_ppr * scale:8.1f} s"
          f" (extrapolated) | speed-up x{power_ppr * scale / fast_ppr:,.0f}; "
          f"|push - power| max {err.max():.2e}, mean {err.mean():.2e} "
          f"(mean score {exact.mean():.2e})")
    if args.json:
        # Dense times extrapolated to all pairs, as printed above.
        out["katz_dense"] = {"fast_s": round(fast_katz, 4),
                             "dense_s": round(dense_katz * scale, 3)}
        out["ppr_power"] = {"push_s": round(fast_ppr, 4), "power_s": round(power_ppr * scale, 3),
                            "max_abs_error": float(err.max())}
        print(json.dumps(out))


def _dense_katz(adj: Adjacency, pairs: torch.Tensor) -> torch.Tensor:
    """Truncated Katz (length 3) by dense propagation of one-hot source blocks."""
    from graphrec.models.heuristics import _source_blocks

    op, targets = adj.propagation(normalize=False), pairs[1].long()
    scores = torch.zeros(pairs.size(1), dtype=torch.float64)  # katz scores in float64 too
    for ids, walks, cols in _source_blocks(pairs.long(), adj.num_nodes, 256):
        for length in range(1, 4):
            walks = op @ walks
            scores[ids] += 0.005**length * walks[targets[ids], cols]
    return scores


if __name__ == "__main__":
    main()
