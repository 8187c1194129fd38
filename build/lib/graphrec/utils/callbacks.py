"""Small Lightning callbacks: a one-line validation summary while training."""

from __future__ import annotations

import lightning as L


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
