"""Small Lightning callbacks: a one-line validation summary while training; the random
states that make a resumed run continue exactly; checkpoints whose best file holds weights;
the thread count of each training step."""

from __future__ import annotations

import random

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from graphrec.utils import threads


class ValidationPrinter(L.Callback):
    """Prints ``epoch | val/score | each task's primary metric`` after each validation.

    Full-graph epochs are a single step, so a progress bar says nothing; this line does.
    """

    def on_validation_end(self, trainer, pl_module):
        # Only while fitting: the final validate() of the best checkpoint is in the table.
        if trainer.sanity_checking or not trainer.is_global_zero or trainer.state.fn != "fit":
            return
        m = trainer.callback_metrics
        parts = [f"epoch {trainer.current_epoch:4d}"]
        if "val/score" in m:
            parts.append(f"val/score {float(m['val/score']):.4f}")
        for name, task in pl_module.tasks.items():
            key = f"val/{name}/{task.primary_metric}"
            if key in m:
                parts.append(f"{name}/{task.primary_metric} {float(m[key]):.4f}")
        print(" | ".join(parts), flush=True)


class StepThreads(L.Callback):
    """Runs each training step (forward, backward, optimizer) with the threads its batch
    can use: one per ``edges_per_thread`` sampled edges, never more than the thread setting
    (:func:`graphrec.utils.threads.step_threads`).

    Small mini-batches were slower at two threads than at one on an idle 2-core machine
    (the main graph's 135k-edge batches: 17-batch epoch 3.4 s against 2.7 s), large ones
    faster (674k edges: 6.7 s against 8.4 s for 6 batches); docs/threads.md. The count
    depends on the batch only, so a run is as reproducible as at a fixed setting.

    The count is held between steps, so the next batch's sampling (the data side, which
    follows the load below this count; :mod:`graphrec.utils.threads`) runs with it too: its
    ops are as small as the step's, and on the main graph they took 0.55 s per epoch at two
    threads against 0.40 s at one. The setting is restored at the end of each training
    epoch, before validation and when training stops or fails.
    """

    def __init__(self, edges_per_thread: int = threads.EDGES_PER_THREAD):
        self.edges_per_thread = edges_per_thread
        self._before: int | None = None  # the setting found before the first held step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self._before is None:
            self._before = torch.get_num_threads()
        n = threads.step_threads(threads.batch_edges(batch), self._before,
                                 self.edges_per_thread)
        if n != torch.get_num_threads():
            torch.set_num_threads(n)

    def _restore(self, *args) -> None:
        if self._before is not None:
            if torch.get_num_threads() != self._before:
                torch.set_num_threads(self._before)
            self._before = None

    on_train_epoch_end = on_validation_start = on_fit_end = on_exception = _restore


class RNGStates(L.Callback):
    """Saves the torch, numpy and python random states in each checkpoint and restores them
    when training continues from one.

    Lightning restores weights, optimizer and loops but not these (its own collector keeps
    numpy's state as an array, which ``weights_only`` loading refuses, so it is stored here as
    a tensor). They are restored at the start of the first epoch after resuming, the point at
    which the uninterrupted run was when the checkpoint was written: validation and saving
    draw no random numbers, so the next draws of both runs are the same.
    """

    def __init__(self):
        self._pending: dict | None = None

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        kind, key, pos, has_gauss, gauss = np.random.get_state()
        checkpoint["rng_states"] = {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
            "numpy": {"kind": kind, "key": torch.from_numpy(key.astype(np.int64)), "pos": pos,
                      "has_gauss": has_gauss, "gauss": gauss},
            "python": random.getstate(),
        }

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        self._pending = checkpoint.get("rng_states")

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        states, self._pending = self._pending, None
        if not states:
            return
        torch.set_rng_state(states["torch"])
        if states["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(states["cuda"])
        n = states["numpy"]
        np.random.set_state((n["kind"], n["key"].numpy().astype(np.uint32), n["pos"],
                             n["has_gauss"], n["gauss"]))
        version, internal, gauss = states["python"]
        random.setstate((version, tuple(internal), gauss))


class RunCheckpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint``, with the best checkpoint holding the weights only.

    The best checkpoint is what evaluation and recommendation read; ``last.ckpt`` is what a
    resumed run continues from, so only it carries the optimizer state (two Adam moments
    per parameter: two thirds of a full checkpoint).

    Args:
        best_weights_only: write monitored (best) checkpoints without optimizer and callback
            states; ``last.ckpt`` stays complete. Other arguments: ``ModelCheckpoint``'s.
    """

    def __init__(self, *args, best_weights_only: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.best_weights_only = best_weights_only

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        # _save_last_checkpoint sets last_model_path before it saves, so this tells them apart.
        is_last = filepath == self.last_model_path
        if self.best_weights_only and not self.save_weights_only and not is_last:
            self.save_weights_only = True
            try:
                super()._save_checkpoint(trainer, filepath)
            finally:
                self.save_weights_only = False
        else:
            super()._save_checkpoint(trainer, filepath)
