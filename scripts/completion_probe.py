"""Does completing the common neighbours (NCNC's idea) carry ranking signal on a friend split?

A dense, offline check behind docs/friend_prediction.md, before building NCNC. On each
evaluation split's own message-passing graph ``A`` (train edges for val, train + val for
test, as the model sees them), resource allocation ``RA(u, v) = sum_k A_uk A_vk / d_k`` is
completed with a first-stage edge probability ``P`` of the missing half of each one-sided
neighbour: ``cRA(u, v) = RA(u, v) + alpha * sum_k (A_uk P_vk + P_uk A_vk) / d_k``, where
``P`` is Jaccard (``jaccard``) or row-normalised RA (``ra``) on the same graph, zero on
known edges. Each score is also divided by ``(d_v + 1)^0.2`` (the best one-parameter
heuristic there). Prints MRR against the split's fixed negatives for every combination;
choose on ``val``, read ``test`` only for the chosen one.

Dense ``N x N`` matrices: meant for graphs of a few thousand nodes (ego-Facebook: 4,039)::

    python scripts/completion_probe.py experiment=ego_facebook
"""

from __future__ import annotations

import argparse

import torch

from graphrec.metrics.ranking import ranking_metrics, sampled_ranks
from graphrec.runtime import composed_datamodule

MAX_NODES = 20_000  # 20k x 20k floats is 1.6 GB per matrix; a few are held at once


def dense_adjacency(graph, edge_type) -> torch.Tensor:
    n = graph[edge_type[0]].num_nodes
    if n > MAX_NODES:
        raise SystemExit(f"{n} nodes: this dense check is for graphs of at most {MAX_NODES}")
    ei = graph[edge_type].edge_index
    a = torch.zeros(n, n)
    a[ei[0], ei[1]] = 1
    a = ((a + a.T) > 0).float()
    a.fill_diagonal_(0)
    return a


def split_mrr(scores: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, deg: torch.Tensor,
              power: float) -> float:
    """MRR of ``scores[u, v] / (d_v + 1)^power`` of each positive against its negatives."""
    u, v = pos
    p = scores[u, v] / (deg[v] + 1) ** power
    n = scores[u[:, None], neg] / (deg[neg] + 1) ** power
    return ranking_metrics(sampled_ranks(p, n))["mrr"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="friend")
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.4])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of train.yaml")
    args = parser.parse_args()
    _, _, datamodule = composed_datamodule(args.overrides)
    split = datamodule.splits[args.task]
    if split.edge_type[0] != split.edge_type[2]:
        raise SystemExit(f"task {args.task}: this check is for a relation within one node type")
    print("| split | first stage | alpha | MRR | MRR / (d_v+1)^0.2 |")
    print("|---|---|---:|---:|---:|")
    for name in ("val", "test"):
        a = dense_adjacency(datamodule.batches[name]["graph"], split.edge_type)
        deg = a.sum(1)
        inv = torch.where(deg > 0, 1 / deg.clamp(min=1), 0.0)
        ra = (a * inv) @ a
        pos, neg = split.pairs(name), split.negatives(name)
        row = [split_mrr(ra, pos, neg, deg, power) for power in (0, 0.2)]
        print(f"| {name} | none (RA) | 0 | {row[0]:.4f} | {row[1]:.4f} |")
        cn = a @ a
        firsts = {"jaccard": cn / (deg[:, None] + deg[None, :] - cn).clamp(min=1),
                  "ra": ra / ra.max(1, keepdim=True).values.clamp(min=1e-9)}
        for first, p in firsts.items():
            p = p * (1 - a)
            p.fill_diagonal_(0)
            side = (a * inv) @ p.T + (p * inv) @ a  # sum_k (A_uk P_vk + P_uk A_vk) / d_k
            for alpha in args.alphas:
                row = [split_mrr(ra + alpha * side, pos, neg, deg, power) for power in (0, 0.2)]
                print(f"| {name} | {first} | {alpha} | {row[0]:.4f} | {row[1]:.4f} |")


if __name__ == "__main__":
    main()
