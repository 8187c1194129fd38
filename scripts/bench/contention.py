"""Speed at the settings users get: idle and beside one busy PyTorch process, default threads.

Two figures, each measured side by side in this one run (every timing is its own process,
sides alternate, medians over ``--rounds``):

* ``sampler``: graphrec's sampler through PyG's ``NeighborLoader`` (as graphrec's loaders run
  it, with its thread policy) against PyG's compiled sampler (torch-sparse or pyg-lib) in
  ``--reference-python`` (an environment that has it; graphrec need not be installed there),
  on an idle machine and while another process multiplies matrices at default threads.
* ``epoch``: one mini-batch training epoch of the main job's friend task
  (``data.loader=neighbor``) at default threads and at ``OMP_NUM_THREADS=1``, with
  ``--workers`` loader worker processes (0: sampling in the training process), idle and busy.

No variable is exported for the default-threads rows; the busy process uses default threads
too. Example::

    python scripts/bench/contention.py --reference-python /path/to/torch-sparse-env/bin/python
    python scripts/bench/contention.py --part epoch --workers 0 1

``--json`` adds one JSON line of every row at the end (``scripts/bench/all.py`` reads it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent

BUSY = """
import time, torch
a = torch.randn(1500, 1500)
while True:
    a @ a
"""

EPOCH = """
import graphrec  # first, as graphrec's entry points import it: its thread policy applies
import json, sys, time
import lightning as L
from hydra import compose, initialize_config_dir
import hydra
from omegaconf import OmegaConf
from graphrec.runtime import CONFIG_DIR, build_datamodule
import torch

overrides = json.loads(sys.argv[1])
with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
    cfg = compose("train", overrides=["task=[friend]", "data.loader=neighbor", *overrides])
L.seed_everything(0, verbose=False)
tasks = OmegaConf.to_container(cfg.task, resolve=True)
dm = build_datamodule(cfg.data, tasks)
if dm.minibatch is not None:  # as train() does for mini-batch data
    from graphrec.utils.allocator import map_large_allocations
    map_large_allocations()
dm.setup()
module = hydra.utils.instantiate(cfg.model)(metadata=dm.metadata, node_specs=dm.node_specs,
                                            tasks=tasks)

class Clock(L.Callback):
    def on_train_epoch_start(self, trainer, pl_module):
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        self.seconds = time.perf_counter() - self.start

clock = Clock()
# The step's thread rule, as train() configures it (absent when removed by an override).
steps = cfg.callbacks.get("step_threads")
extra = [hydra.utils.instantiate(steps)] if steps else []
trainer = L.Trainer(accelerator="cpu", max_epochs=1, limit_val_batches=0,
                    num_sanity_val_steps=0, logger=False, enable_checkpointing=False,
                    enable_progress_bar=False, enable_model_summary=False,
                    callbacks=[clock, *extra])
trainer.fit(module, datamodule=dm)
print(json.dumps({"epoch_seconds": clock.seconds, "threads": torch.get_num_threads(),
                  "batches": trainer.num_training_batches}))
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["all", "sampler", "epoch"], default="all")
    parser.add_argument("--reference-python", default=sys.executable,
                        help="a Python with torch-sparse or pyg-lib for the compiled sampler")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1],
                        help="loader worker processes of the epoch rows")
    parser.add_argument("--sampler-args", default="--batches 15 --repeats 3",
                        help="extra arguments of scripts/bench/sampler.py")
    parser.add_argument("--epoch-overrides", nargs="*", default=[],
                        help="Hydra overrides of the epoch run (default: the main graph)")
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    return parser.parse_args()


def plain_env(**extra) -> dict:
    """This environment without thread settings: what a user who set nothing has
    (``GRAPHREC_BENCH_ENV``, a JSON object, adds variables for an experiment)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")}
    return {**env, **json.loads(os.environ.get("GRAPHREC_BENCH_ENV", "{}")), **extra}


@contextmanager
def condition(name: str):
    """``idle``: nothing else; ``busy``: one more process multiplying matrices."""
    proc = None
    if name == "busy":
        env = {k: v for k, v in plain_env().items() if k != "OMP_WAIT_POLICY"}
        proc = subprocess.Popen([sys.executable, "-c", BUSY], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3)  # past its imports: computing when the timing starts
    try:
        yield
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


def last_json(out: str) -> dict:
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def sampler_rate(python: str, which: str, extra: str) -> float:
    out = subprocess.run([python, str(HERE / "sampler.py"), "--sampler", which, "--json",
                          *extra.split()], env=plain_env(), capture_output=True, text=True,
                         check=True).stdout
    if not any(line.startswith("{") for line in out.splitlines()):
        # sampler.py says why it skipped (no pyg-lib or torch-sparse in that Python).
        sys.exit(f"{python}: no {which} sampler figure: {out.strip()}")
    return last_json(out)["batches_per_s"]


def epoch_seconds(workers: int, threads_env: dict, overrides: list[str]) -> float:
    args = [f"data.neighbor.num_workers={workers}", *overrides]
    out = subprocess.run([sys.executable, "-c", EPOCH, json.dumps(args)],
                         env=plain_env(**threads_env), capture_output=True, text=True,
                         check=True).stdout
    return last_json(out)["epoch_seconds"]


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def sampler_part(args, figures: dict) -> list[str]:
    rows = ["| condition | graphrec batches/s (min-max) | compiled batches/s (min-max) | ratio |",
            "|---|---|---|---|"]
    for cond in ("idle", "busy"):
        ours, theirs = [], []
        with condition(cond):
            for _ in range(args.rounds):  # alternating sides, so drifts hit both
                ours.append(sampler_rate(sys.executable, "torch", args.sampler_args))
                theirs.append(sampler_rate(args.reference_python, "compiled",
                                           args.sampler_args))
        a, b = statistics.median(ours), statistics.median(theirs)
        figures[cond] = {"graphrec": round(a, 3), "compiled": round(b, 3),
                         "ratio": round(a / b, 3)}
        rows.append(f"| {cond}, default threads | {a:.2f} ({spread(ours)}) | {b:.2f} "
                    f"({spread(theirs)}) | {a / b:.2f}x |")
        print(rows[-1], flush=True)
    return rows


def epoch_part(args, figures: dict) -> list[str]:
    rows = ["| condition | workers | default threads, s (min-max) | OMP_NUM_THREADS=1, s "
            "(min-max) | default / one thread |", "|---|---|---|---|---|"]
    for cond in ("idle", "busy"):
        for workers in args.workers:
            default, one = [], []
            with condition(cond):
                for _ in range(args.rounds):
                    default.append(epoch_seconds(workers, {}, args.epoch_overrides))
                    one.append(epoch_seconds(workers, {"OMP_NUM_THREADS": "1"},
                                             args.epoch_overrides))
            a, b = statistics.median(default), statistics.median(one)
            figures.setdefault(cond, {})[f"workers_{workers}"] = {
                "default_s": round(a, 3), "one_thread_s": round(b, 3), "ratio": round(a / b, 3)}
            rows.append(f"| {cond} | {workers} | {a:.2f} ({spread(default)}) | {b:.2f} "
                        f"({spread(one)}) | {a / b:.2f} |")
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    args = parse_args()
    tables, out = [], {"bench": "contention", "rounds": args.rounds}
    if args.part in ("all", "sampler"):
        print("sampler (200k nodes, 4M edges, fan-out [15, 10], batch 1,024):", flush=True)
        tables.append(sampler_part(args, out.setdefault("sampler", {})))
    if args.part in ("all", "epoch"):
        print("mini-batch epoch (friend task, data.loader=neighbor):", flush=True)
        tables.append(epoch_part(args, out.setdefault("epoch", {})))
    print()
    for rows in tables:
        print("\n".join(rows) + "\n")
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
