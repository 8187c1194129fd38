"""Benchmark recommend: top-20 friends for every user of the million-user synthetic graph.

Stages, each timed with its peak resident memory: build the data (``data=synthetic_large``,
friend task), embed every node layer by layer, exact top-K with known friends and the user
excluded (chunked matrix product + top-K), and the approximate faiss IVF path with its
recall@K against the exact lists. With ``--exact-queries N`` the exact path runs on the
first ``N`` users and its time for all users is extrapolated linearly (it is linear in the
number of queries: every query scans the whole catalogue), which the output says.

Without ``--ckpt`` the model is the default one *untrained* (seeded init): speed and memory
do not depend on the weights, but recall of the approximate index does depend on the
geometry of the embeddings, so pass a trained checkpoint for a recall figure that speaks
for a trained model.

``--lean`` measures the recommender's own part only: it generates the graph (no split, no
featurization, no encoder) and ranks with fixed user vectors, a seeded random projection of
the users' features to 64 dimensions (community structure, as an encoder's output has),
so the exact and faiss paths, their memory and the reasons are timed on the real 1M-user
friend graph and its exclusions when the layer-wise GNN inference cannot be afforded.

    python scripts/bench/recommend.py                          # 1M users (heavy)
    python scripts/bench/recommend.py --users 20000 --exact-queries 5000   # quick
    python scripts/bench/recommend.py --lean --exact-queries 20000         # top-K part only
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf
from retrieval import GIB, PeakRSS
from torch_geometric.data import HeteroData

from graphrec.ann import build_index, faiss_topk
from graphrec.candidates import SCORE_BUDGET, embed, known_pairs, top_k
from graphrec.metrics.retrieval import topk_retrieval
from graphrec.metrics.screened_topk import bf16_is_fast, screened_topk
from graphrec.reasons import explain
from graphrec.runtime import CONFIG_DIR, build_datamodule, rebuild_from_checkpoint
from graphrec.sources.synthetic import generate_social_graph

FRIENDS = ("user", "friends", "user")


def stage(name, fn, report):
    with PeakRSS() as mem:
        start = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - start
    report[name] = {"seconds": round(seconds, 2), "peak_rss_gib": round(mem.peak / GIB, 2)}
    print(f"{name:<28} {seconds:9.1f} s   peak RSS {mem.peak / GIB:6.2f} GiB", flush=True)
    return out


def build(args):
    if args.ckpt:
        _, dm, module = rebuild_from_checkpoint(args.ckpt)
        return dm, module
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[f"data={args.data}", "task=[friend]",
                                          f"data.source.num_users={args.users}"])
    torch.manual_seed(0)
    tasks = OmegaConf.to_container(cfg.task, resolve=True)
    dm = build_datamodule(cfg.data, tasks)
    dm.setup()
    module = instantiate(cfg.model)(metadata=dm.metadata, node_specs=dm.node_specs, tasks=tasks)
    return dm, module


class LeanGraph:
    """The generated graph alone, with user vectors in place of a model's (``--lean``)."""

    def __init__(self, users: int, dim: int = 64):
        full = generate_social_graph(num_users=users)
        # Only what ranking friends reads: the rest of the graph would only take memory.
        self.graph = HeteroData()
        self.graph["user"].x = full["user"].x
        self.graph["user"].num_nodes = full["user"].num_nodes
        self.graph[FRIENDS].edge_index = full[FRIENDS].edge_index
        del full
        g = torch.Generator().manual_seed(0)
        x = self.graph["user"].x
        self.z = {"user": (x - x.mean(0)) @ torch.randn(x.size(1), dim, generator=g)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--data", default="synthetic_large")
    p.add_argument("--ckpt", default=None, help="a trained checkpoint (default: untrained)")
    p.add_argument("--k", type=int, default=20)
    p.add_argument("--exact-queries", type=int, default=None,
                   help="exact path on the first N users only, extrapolated (default: all)")
    p.add_argument("--chunk", type=int, default=1024)
    p.add_argument("--plain-queries", type=int, default=2048,
                   help="users ranked by the plain float32 path too, as the reference")
    p.add_argument("--nprobe", type=int, default=32)
    p.add_argument("--nlist", type=int, default=None)
    p.add_argument("--reason-pairs", type=int, default=200_000,
                   help="pairs whose mutual friends are listed, timed (0: skip)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lean", action="store_true",
                   help="no split or encoder: fixed user vectors (see the docstring)")
    p.add_argument("--out", default=None, help="write the figures as JSON here")
    p.add_argument("--json", action="store_true",
                   help="print the figures as one JSON line last (for scripts/bench/all.py)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    report = {"args": vars(args), "untrained": args.ckpt is None}

    if args.lean:
        lean = stage("data (generate)", lambda: LeanGraph(args.users), report)
        graph, z = lean.graph, lean.z

        def exact_top(queries, exclude):  # as top_k does for a dot decoder
            if bf16_is_fast():
                return screened_topk(z["user"][queries], z["user"], args.k, exclude)
            return plain_top(queries, exclude)
    else:
        dm, module = stage("data (generate + split)", lambda: build(args), report)
        graph = dm.graph
        z = stage("embed (layer-wise)", lambda: embed(module, graph, dm), report)

        def exact_top(queries, exclude):
            return top_k(module, "friend", z, graph, queries, args.k, exclude, args.chunk)
    n = graph["user"].num_nodes

    def plain_top(queries, exclude):  # the float32 product + top-K, every pair scored
        rows = max(1, min(args.chunk, SCORE_BUDGET // n))  # as top_k caps it
        return topk_retrieval(z["user"][queries], z["user"], args.k, exclude, rows)

    m = min(n, args.exact_queries or n)
    queries = torch.arange(m)
    exclude = known_pairs(graph, FRIENDS, queries)
    exact_scores, exact = stage(f"exact top-{args.k}, {m} users",
                                lambda: exact_top(queries, exclude), report)
    exact_s = report[f"exact top-{args.k}, {m} users"]["seconds"]
    report["exact_all_users_seconds"] = round(exact_s * n / m, 1)
    report["exact_extrapolated"] = m < n
    print(f"exact, all {n} users: {exact_s * n / m:.1f} s"
          + (f" (extrapolated from {m})" if m < n else ""), flush=True)
    report["bf16_screen"] = bf16_is_fast()

    if args.plain_queries and "user" in z:  # the reference: every pair in float32
        r = min(args.plain_queries, m)
        first = torch.arange(r)
        sub_exclude = exclude[:, exclude[0] < r]
        name = f"plain float32 top-{args.k}, {r} users"
        plain_s, plain_i = stage(name, lambda: plain_top(first, sub_exclude), report)
        plain_all = report[name]["seconds"] * n / r
        report["plain_all_users_seconds"] = round(plain_all, 1)
        report["exact_speedup_vs_plain"] = round(plain_all / (exact_s * n / m), 2)
        same = float((plain_i == exact[:r]).float().mean())
        report["exact_same_ids_as_plain"] = round(same, 6)
        finite = plain_s.isfinite()
        diff = (plain_s[finite] - exact_scores[:r][finite]).abs()
        report["exact_max_score_diff_vs_plain"] = float(diff.max())
        # Float32 products summed in another order differ in the last bits.
        report["exact_max_rel_score_diff_vs_plain"] = float(
            (diff / plain_s[finite].abs().clamp_min(1e-30)).max())
        print(f"plain float32, all {n} users: {plain_all:.1f} s (extrapolated from {r}); "
              f"{report['exact_speedup_vs_plain']}x; same ids {same:.6f}", flush=True)

    index = stage("faiss IVF build", lambda: build_index(z["user"], "ivf", args.nlist,
                                                         args.nprobe), report)
    everyone = torch.arange(n)
    all_exclude = known_pairs(graph, FRIENDS, everyone)
    _, approx = stage(f"faiss top-{args.k}, {n} users",
                      lambda: faiss_topk(z["user"], z["user"], args.k, all_exclude,
                                         index=index), report)
    report["faiss_seconds"] = report[f"faiss top-{args.k}, {n} users"]["seconds"]
    a, e = approx[:m], exact
    hits = (a[:, :, None] == e[:, None, :]) & (e[:, None, :] >= 0)
    recall = float(hits.any(1).sum() / (e >= 0).sum())
    report[f"faiss_recall@{args.k}"] = round(recall, 4)
    report["faiss"] = {"nlist": index.nlist, "nprobe": index.nprobe}
    print(f"faiss recall@{args.k} against exact (first {m} users): {recall:.4f}", flush=True)

    if args.reason_pairs:
        r = min(args.reason_pairs, e.numel())
        src = queries[:, None].expand_as(e).reshape(-1)[:r]
        dst = e.reshape(-1)[:r]
        raw = {"user": range(n)}
        spec = [{"name": "mutual_friends", "src": FRIENDS, "dst": FRIENDS}]
        stage(f"mutual friends, {r} pairs", lambda: explain(graph, spec, src, dst, raw),
              report)
    report["peak_rss_gib"] = max(v["peak_rss_gib"] for v in report.values()
                                 if isinstance(v, dict) and "peak_rss_gib" in v)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
    if args.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
