"""Scale figures of the ``synthetic_large`` preset: generation, and one mini-batch epoch.

Each stage runs in its own process, so its peak resident memory (``ru_maxrss``) is its own.
``--stage all`` runs every scale figure in turn: the sampler and full-ranking benchmarks
(``scripts/bench_sampler.py``, ``scripts/bench_retrieval.py --part retrieval``) and these two:

* ``generate``: builds the graph; prints seconds, peak memory and edge counts.
* ``epoch``: builds the data (graph, splits, train message-passing graph) exactly as
  ``python scripts/train.py data=synthetic_large task=[friend]`` does, then trains the default
  model for one epoch over ``--train-edges`` friend training pairs through
  ``LinkNeighborLoader`` (with ``data.loader=neighbor``); prints seed edges/s over the epoch
  and the process's peak memory (which includes generating the graph).

Example::

    python scripts/bench_scale.py                          # every figure (about 1.5 h)
    python scripts/bench_scale.py --stage epoch model.sparse_embeddings=true   # 1M edges
    python scripts/bench_scale.py --num-users 20000 --train-edges 20000
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=["all", "sampler", "generate", "epoch", "ranking"],
                        default="all")
    parser.add_argument("--num-users", type=int, default=1_000_000)
    parser.add_argument("--train-edges", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides for the epoch stage")
    return parser.parse_args()


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def rss_gib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**30


def generate(args) -> dict:
    from graphrec.data.synthetic import generate_social_graph

    start = time.perf_counter()
    graph = generate_social_graph(num_users=args.num_users)
    seconds = time.perf_counter() - start
    forward = [et for et in graph.edge_types if not et[1].startswith("rev_")]
    return {
        "stage": "generate", "num_users": args.num_users, "seconds": round(seconds, 1),
        "peak_gib": round(peak_gib(), 2),
        "nodes": sum(graph[nt].num_nodes for nt in graph.node_types),
        "edges_stored": sum(graph[et].num_edges for et in graph.edge_types),
        "edges_forward": sum(graph[et].num_edges for et in forward),
    }


def epoch(args) -> dict:
    import hydra
    import lightning as L
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from graphrec.train import CONFIG_DIR, build_datamodule

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[
            "data=synthetic_large", f"data.source.num_users={args.num_users}",
            "task=[friend]", *args.overrides])
    tasks = OmegaConf.to_container(cfg.task, resolve=True)
    start = time.perf_counter()
    dm = build_datamodule(cfg.data, tasks)
    dm.setup()
    setup_s = time.perf_counter() - start
    setup_rss = rss_gib()
    module = hydra.utils.instantiate(cfg.model)(
        metadata=dm.metadata, node_specs=dm.node_specs, tasks=tasks)
    batch_size = cfg.data.neighbor.batch_size
    batches = math.ceil(args.train_edges / batch_size)

    class Clock(L.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            self.start = time.perf_counter()

        def on_train_epoch_end(self, trainer, pl_module):
            self.seconds = time.perf_counter() - self.start

    clock = Clock()
    trainer = L.Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=batches,
                        limit_val_batches=0, num_sanity_val_steps=0, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[clock])
    trainer.fit(module, datamodule=dm)
    edges = batches * batch_size
    return {
        "stage": "epoch", "num_users": args.num_users, "train_pairs": int(dm.splits["friend"]
                                                                           .train.size(1)),
        "setup_seconds": round(setup_s, 1), "rss_after_setup_gib": round(setup_rss, 2),
        "batches": batches, "batch_size": batch_size,
        "num_neighbors": list(cfg.data.neighbor.num_neighbors),
        "sparse_embeddings": bool(cfg.model.get("sparse_embeddings", False)),
        "threads": args.threads, "overrides": list(args.overrides),
        "epoch_seconds": round(clock.seconds, 1),
        "seed_edges_per_s": round(edges / clock.seconds),
        "batches_per_s": round(batches / clock.seconds, 2),
        "peak_gib": round(peak_gib(), 2),
    }


def main() -> None:
    args = parse_args()
    # The sampler and ranking figures have their own scripts; these are their target settings.
    others = {
        "sampler": [str(ROOT / "scripts" / "bench_sampler.py"), "--threads", str(args.threads),
                    "--batches", "10", "--repeats", "3"],
        "ranking": [str(ROOT / "scripts" / "bench_retrieval.py"), "--part", "retrieval"],
    }
    if args.stage in others:
        subprocess.run([sys.executable, *others[args.stage]], check=True, cwd=ROOT)
        return
    if args.stage == "all":
        for stage in ("sampler", "generate", "epoch", "ranking"):
            cmd = [sys.executable, __file__, "--stage", stage, "--num-users", str(args.num_users),
                   "--train-edges", str(args.train_edges), "--threads", str(args.threads),
                   *args.overrides]
            subprocess.run(cmd, check=True, cwd=ROOT)
        return
    import torch

    torch.set_num_threads(args.threads)
    out = generate(args) if args.stage == "generate" else epoch(args)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
