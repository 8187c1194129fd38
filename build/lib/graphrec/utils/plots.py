"""The popularity-bias plot: how popular recommended items are against the held-out ones.

matplotlib is an optional extra (``pip install graphrec[plot]``): without it the plot is
skipped with one logged note, and every metric is still written.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

log = logging.getLogger(__name__)


def popularity_plot(recommended: torch.Tensor, heldout: torch.Tensor, path: Path,
                    title: str = "", k: int | None = None) -> Path | None:
    """Writes a PNG of the two popularity distributions (complementary CDFs, log axes).

    Args:
        recommended: ``[R]`` training popularity of every recommended slot.
        heldout: ``[P]`` training popularity of every held-out positive.
        path: the PNG to write.
        title: the plot's title; k: the list length, for the legend.

    Returns:
        ``path``, or None when matplotlib is missing.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display on a server
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: skipping %s (pip install graphrec[plot])",
                    path.name)
        return None
    fig, ax = plt.subplots(figsize=(5, 3.5))
    top = f"top-{k}" if k else "top-K"
    for values, label in ((recommended, f"recommended ({top})"), (heldout, "held-out positives")):
        v = values.double().sort().values
        if not v.numel():
            continue
        # +1 so items nobody has (popularity 0) stay on a log axis.
        ccdf = 1 - torch.arange(v.numel(), dtype=torch.float64) / v.numel()
        ax.step((v + 1).numpy(), ccdf.numpy(), where="post",
                label=f"{label}, mean {float(v.mean()):.1f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("item popularity in the training graph + 1")
    ax.set_ylabel("fraction with at least this")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def save_popularity_plots(module, split: str, out_dir: Path, loggers=()) -> list[Path]:
    """One plot per task whose last full ranking left popularity samples; logged to W&B.

    Returns:
        The PNGs written (``<out_dir>/popularity_<split>_<task>.png``).
    """
    written = []
    for name, task in getattr(module, "tasks", {}).items():
        samples = getattr(task, "popularity_samples", None) or {}
        if "popularity_recommended" not in samples:
            continue
        path = popularity_plot(samples["popularity_recommended"], samples["popularity_heldout"],
                               Path(out_dir) / f"popularity_{split}_{name}.png",
                               f"{split}/{name}: popularity of recommended vs held-out items",
                               samples.get("k"))
        if path is None:
            continue
        written.append(path)
        for logger in loggers:
            if hasattr(logger, "log_image"):
                logger.log_image(key=f"{split}/{name}/popularity", images=[str(path)])
    return written
