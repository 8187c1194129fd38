"""Evaluation from a checkpoint alone: rebuild data and model, reproduce the test metrics.

The command line (``scripts/evaluate.py``) is :func:`graphrec.cli.evaluate_main`.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from graphrec.runtime import rebuild_from_checkpoint
from graphrec.utils.loggers import build_loggers
from graphrec.utils.plots import save_popularity_plots
from graphrec.utils.results import metric_table, write_json
from graphrec.utils.segments import log_segment_tables


def evaluate(cfg: DictConfig) -> dict:
    """Tests the checkpoint ``cfg.ckpt_path`` on the data and split it was trained on.

    Returns:
        ``{"test": {...}, "ckpt": path}``; also written to ``<output_dir>/results.json``.
    """
    path = Path(cfg.ckpt_path)
    # Same held-out pairs, other negatives (eval_negatives=heart: HeaRT-style hard ones).
    ckpt, datamodule, module = rebuild_from_checkpoint(path, cfg.get("trusted_targets") or (),
                                                       cfg.get("eval_negatives"))
    trained_on = ckpt["graphrec"]["provenance"]
    out_dir = Path(cfg.paths.output_dir)
    specs = OmegaConf.to_container(cfg.logger, resolve=True) if cfg.get("logger") else None
    loggers = build_loggers(specs, out_dir.name)
    trainer = hydra.utils.instantiate(cfg.trainer, logger=loggers or False, callbacks=[])
    test = trainer.test(module, datamodule=datamodule, verbose=False)[0]
    results = {"test": test, "ckpt": str(path), "provenance": trained_on}
    write_json(out_dir / "results.json", results)
    save_popularity_plots(module, "test", out_dir, loggers)
    log_segment_tables(loggers, test)
    print(metric_table({}, test), flush=True)
    return results
