"""NCN's cost per training epoch against GAE's on Cora, same encoder and protocol.

    GRAPHREC_DATA_DIR=/path/to/data python scripts/bench/ncn.py [--epochs 20] [--threads 1|0]

Both sides are ``experiment=ncn_cora`` (1-layer GCN, 256 channels, 70/10/20 split, 30% of
the train citations supervise each step and leave its message passing); the GAE side swaps
the decoder for the inner product (``model/decoder=dot``). One epoch is one full-graph
training step: forward, loss on the supervision pairs and as many uniform negatives,
backward, AdamW update (validation is outside the timed region). Printed: the median step
time of each side over ``--epochs`` steps after one warm-up step, as wall and process CPU time
(steadier on a shared machine), and the NCN / GAE ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def step_times(overrides: list[str], epochs: int) -> list[tuple[float, float]]:
    import hydra
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from graphrec.runtime import CONFIG_DIR, build_datamodule

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=["experiment=ncn_cora", *overrides])
    torch.manual_seed(0)
    tasks = OmegaConf.to_container(cfg.task, resolve=True)
    dm = build_datamodule(cfg.data, tasks)
    dm.setup()
    module = hydra.utils.instantiate(cfg.model)(metadata=dm.metadata, node_specs=dm.node_specs,
                                                tasks=tasks)
    module.log = lambda *a, **k: None  # no trainer attached: logging is not timed
    opt = module.configure_optimizers()
    batch = dm.batches["train"]
    times = []
    for _ in range(epochs + 1):
        t0 = (time.perf_counter(), time.process_time())
        loss = module.training_step(batch, 0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append((time.perf_counter() - t0[0], time.process_time() - t0[1]))
    return times[1:]  # the first step builds caches (normalized adjacency, features)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; 0 leaves torch's default (what users get)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}")
    sides = {"GAE (dot)": ["model/decoder=dot"], "NCN": []}
    med = {}
    for name, overrides in sides.items():
        times = step_times(overrides, args.epochs)
        med[name] = tuple(statistics.median(t[i] for t in times) for i in (0, 1))
        print(f"{name:10s} wall {med[name][0] * 1e3:8.1f} ms  cpu {med[name][1] * 1e3:8.1f} ms "
              f"per epoch (median of {args.epochs})")
    wall = med["NCN"][0] / med["GAE (dot)"][0]
    cpu = med["NCN"][1] / med["GAE (dot)"][1]
    print(f"NCN / GAE: {wall:.2f}x wall, {cpu:.2f}x cpu")


if __name__ == "__main__":
    main()
