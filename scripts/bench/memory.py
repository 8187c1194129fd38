"""Peak resident memory, phase by phase, of the million-user four-task run.

    python scripts/bench/memory.py                       # 1M users (about 15-25 min, 2 cores)
    python scripts/bench/memory.py --num-users 20000     # quick
    python scripts/bench/memory.py --json -- model/encoder=gat

The run is the one docs/scale.md quotes: ``train(cfg)`` of ``data=synthetic_large`` (all four
tasks, mini-batches, fan-out [5, 3], sparse ID tables), 20 training steps, then validation and
test over all val/test pairs and posts. A thread reads the process's resident set every 20 ms
and keeps the largest value per phase:

* ``data``: generation, featurization, splits, message-passing graphs (everything before
  training starts);
* ``fit``: the training steps (model, optimizer state, loaders and their samplers);
* ``validate`` / ``test``: layer-wise embedding of every node and ranking.

``ru_maxrss`` (the kernel's own peak) is printed beside the sampled peaks as a check: a
sampler can miss a peak shorter than its interval, the kernel cannot.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INTERVAL_S = 0.02


class PhasePeaks:
    """The largest resident set seen in each phase, read from /proc by a daemon thread."""

    def __init__(self):
        import psutil

        self.process = psutil.Process()
        self.phase, self.peaks = "data", {}
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while True:
            rss = self.process.memory_info().rss / 2**30
            self.peaks[self.phase] = max(self.peaks.get(self.phase, 0.0), rss)
            time.sleep(INTERVAL_S)

    def enter(self, phase: str) -> None:
        time.sleep(2 * INTERVAL_S)  # the last reading of the phase that ends
        self.phase = phase


def phase_callback(peaks: PhasePeaks):
    import lightning as L

    class Phases(L.Callback):
        def on_fit_start(self, trainer, pl_module):
            peaks.enter("fit")

        def on_validation_start(self, trainer, pl_module):
            if trainer.state.fn == "validate":  # not the validations inside fit
                peaks.enter("validate")

        def on_test_start(self, trainer, pl_module):
            peaks.enter("test")

    return Phases()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-users", type=int, default=1_000_000)
    parser.add_argument("--train-batches", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="also one JSON line at the end")
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides of the run")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    peaks = PhasePeaks()
    start = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from graphrec.runtime import CONFIG_DIR
    from graphrec.train import train

    with tempfile.TemporaryDirectory() as out_dir:
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            cfg = compose("train", overrides=[
                "data=synthetic_large", f"data.source.num_users={args.num_users}",
                "data.neighbor.num_neighbors=[5,3]", "model.sparse_embeddings=true",
                "trainer.max_epochs=1", f"+trainer.limit_train_batches={args.train_batches}",
                # No validation inside the one epoch: the final weights are validated, tested.
                "trainer.check_val_every_n_epoch=2", "logger=none", *args.overrides])
        with open_dict(cfg):
            cfg.paths.output_dir = out_dir
        results = train(cfg, [phase_callback(peaks)])
    peaks.enter("done")
    wall = time.perf_counter() - start
    kernel_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    phases = {k: round(v, 2) for k, v in peaks.peaks.items() if k != "done"}
    print(f"{args.num_users:,} users, four tasks, {args.train_batches} training steps: "
          f"wall {wall / 60:.1f} min, peak {kernel_peak:.2f} GiB (ru_maxrss)")
    print("| phase | peak resident memory, GiB |\n|---|---|")
    for phase, gib in phases.items():
        print(f"| {phase} | {gib:.2f} |")
    if args.json:
        test = results.get("test", {})
        print(json.dumps({
            "bench": "memory", "num_users": args.num_users, "train_batches": args.train_batches,
            "overrides": list(args.overrides), "peak_gib": round(kernel_peak, 2),
            "wall_s": round(wall, 1), "phases": phases,
            "test_friend_mrr": test.get("test/friend/mrr")}), flush=True)


if __name__ == "__main__":
    main()
