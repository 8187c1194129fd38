"""Scale figures of the ``synthetic_large`` preset: generation, and one mini-batch epoch.

Each stage runs in its own process, so its peak resident memory (``ru_maxrss``) is its own.
``--stage all`` runs every scale figure in turn: the sampler and full-ranking benchmarks
(``scripts/bench/sampler.py``, ``scripts/bench/retrieval.py --part retrieval``) and these two:

* ``generate``: builds the graph; prints seconds, peak memory and edge counts.
* ``steps`` (not in ``all``): median seconds of each phase of a friend training step
  (sampling, forward, backward, optimizer), with ``--untrimmed`` for the untrimmed layers.
* ``epoch``: builds the data (graph, splits, train message-passing graph) exactly as
  ``python scripts/train.py data=synthetic_large task=[friend]`` does, then trains the default
  model for one epoch over ``--train-edges`` friend training pairs through
  ``LinkNeighborLoader`` (with ``data.loader=neighbor``); prints seed edges/s over the epoch
  and the process's peak memory (which includes generating the graph).

Example::

    python scripts/bench/scale.py                          # every figure (about 1.5 h)
    python scripts/bench/scale.py --stage epoch model.sparse_embeddings=true   # 1M edges
    python scripts/bench/scale.py --num-users 20000 --train-edges 20000
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

ROOT = Path(__file__).resolve().parents[2]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=["all", "sampler", "generate", "epoch", "steps",
                                            "ranking"], default="all")
    parser.add_argument("--steps", type=int, default=6, help="timed steps of --stage steps")
    parser.add_argument("--untrimmed", action="store_true",
                        help="--stage steps: run every layer over the whole subgraph")
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
    from graphrec.sources.synthetic import generate_social_graph

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


def friend_setup(args):
    """The data and model of ``train.py data=synthetic_large task=[friend]`` (+ overrides)."""
    import hydra
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from graphrec.runtime import CONFIG_DIR, build_datamodule

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[
            "data=synthetic_large", f"data.source.num_users={args.num_users}",
            "task=[friend]", *args.overrides])
    tasks = OmegaConf.to_container(cfg.task, resolve=True)
    start = time.perf_counter()
    dm = build_datamodule(cfg.data, tasks)
    dm.setup()
    setup_s = time.perf_counter() - start
    module = hydra.utils.instantiate(cfg.model)(
        metadata=dm.metadata, node_specs=dm.node_specs, tasks=tasks)
    return cfg, dm, module, setup_s


def steps(args) -> dict:
    """Median seconds per phase of a training step: sampling, forward, backward, optimizer.

    ``--untrimmed`` drops the batches' per-hop counts, so every layer runs over the whole
    sampled subgraph (the encoder's path for whole graphs): the cost that trimming saves.
    """
    import statistics

    cfg, dm, module, setup_s = friend_setup(args)
    opt = module.configure_optimizers()
    loader = iter(dm.train_dataloader())
    phases = {"sample": [], "forward": [], "backward": [], "optimizer": []}
    for i in range(args.steps + 1):
        t0 = time.perf_counter()
        batch = next(loader)[0]
        if args.untrimmed:
            for store in batch["friend"].stores:
                for key in ("num_sampled_nodes", "num_sampled_edges"):
                    if key in store:
                        del store[key]
        t1 = time.perf_counter()
        loss = module._subgraph_step(batch)
        t2 = time.perf_counter()
        opt.zero_grad()
        loss.backward()
        t3 = time.perf_counter()
        opt.step()
        t4 = time.perf_counter()
        if i:  # the first step allocates the optimizer state
            for key, value in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                phases[key].append(value)
    medians = {f"{k}_s": round(statistics.median(v), 3) for k, v in phases.items()}
    return {"stage": "steps", "num_users": args.num_users, "steps": args.steps,
            "untrimmed": args.untrimmed, "overrides": list(args.overrides),
            "setup_seconds": round(setup_s, 1), **medians,
            "step_s": round(sum(medians.values()), 3), "peak_gib": round(peak_gib(), 2)}


def epoch(args) -> dict:
    import lightning as L

    cfg, dm, module, setup_s = friend_setup(args)
    setup_rss = rss_gib()
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
        "sampler": [str(ROOT / "scripts" / "bench" / "sampler.py"), "--threads", str(args.threads),
                    "--batches", "10", "--repeats", "3"],
        "ranking": [str(ROOT / "scripts" / "bench" / "retrieval.py"), "--part", "retrieval"],
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
    out = {"generate": generate, "epoch": epoch, "steps": steps}[args.stage](args)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
