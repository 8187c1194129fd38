"""Training: ``train(cfg)`` is pure (tests call it); ``main`` is the Hydra entry point."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import hydra
import lightning as L
from hydra.errors import InstantiationException
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from graphrec.data.inductive import SPLIT_OPTIONS
from graphrec.data.schema import SchemaError
from graphrec.utils.callbacks import ValidationPrinter
from graphrec.utils.errors import ConfigError, DataMissingError
from graphrec.utils.hydra_callbacks import register_resolvers
from graphrec.utils.loggers import build_loggers
from graphrec.utils.plots import save_popularity_plots
from graphrec.utils.provenance import provenance
from graphrec.utils.results import metric_table, write_json
from graphrec.utils.segments import log_segment_tables

CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "configs")
USER_ERRORS = (ConfigError, DataMissingError, SchemaError)
register_resolvers()  # before any config is resolved, also when composed without the CLI


def task_targets(tasks: dict) -> dict:
    """What the datamodule must split for each task (its kind and target type)."""
    keys = ("kind", "edge_type", "node_type", "symmetric", *SPLIT_OPTIONS)
    return {name: {k: v for k, v in spec.items() if k in keys} for name, spec in tasks.items()}


def build_datamodule(cfg_data, tasks: dict):
    """Instantiates ``cfg.data`` for ``tasks``, turning config mistakes into ConfigError."""
    if not tasks:
        raise ConfigError("no task selected; choose some, e.g. task=[friend,sentiment]")
    try:
        return hydra.utils.instantiate(cfg_data, tasks=task_targets(tasks), _convert_="all")
    except InstantiationException as e:
        cause = e.__cause__ or e
        if isinstance(cause, USER_ERRORS):
            raise cause from None
        raise ConfigError(f"could not build data from config: {cause}") from None


def finish_wandb(exit_code: int) -> None:
    """Closes an open W&B run so that a crash still leaves a complete, synced-able run folder."""
    try:
        import wandb
    except ImportError:
        return
    if wandb.run is not None:
        wandb.finish(exit_code=exit_code)


def train(cfg: DictConfig, extra_callbacks: Sequence = ()) -> dict:
    """Trains, selects the best validation epoch, tests it, and writes ``results.json``.

    ``extra_callbacks`` join the configured Lightning callbacks (for programmatic use, e.g. a
    benchmark's epoch clock).

    Returns:
        ``{"val": {...}, "test": {...}, "best_ckpt": path, "provenance": {...}}``.
    """
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tasks = OmegaConf.to_container(cfg.task, resolve=True) or {}
    datamodule = build_datamodule(cfg.data, tasks)
    datamodule.setup()
    module = hydra.utils.instantiate(cfg.model)(
        metadata=datamodule.metadata, node_specs=datamodule.node_specs, tasks=tasks)
    prov = provenance(cfg.seed, datamodule.data_fingerprint, datamodule.split_fingerprint)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    module.run_info = {"config": resolved, "provenance": prov}

    checkpoint = ModelCheckpoint(**cfg.callbacks.model_checkpoint)
    callbacks = [checkpoint, ValidationPrinter(), *extra_callbacks]
    if cfg.callbacks.get("early_stopping_patience"):
        callbacks.append(EarlyStopping(monitor=cfg.optimized_metric,
                                       mode=cfg.callbacks.model_checkpoint.get("mode", "max"),
                                       patience=cfg.callbacks.early_stopping_patience))
    loggers = build_loggers(cfg.get("logger"), out_dir, resolved.get("wandb"), out_dir.name)
    trainer = hydra.utils.instantiate(cfg.trainer, logger=loggers or False, callbacks=callbacks)
    for logger in loggers:
        logger.log_hyperparams({**resolved, "provenance": prov})
    try:
        learned = any(p.requires_grad for p in module.parameters())
        if learned:  # non-learned baselines (model=heuristic) have nothing to fit
            trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"),
                            weights_only=True)
        # Under DDP only rank 0 saves checkpoints; every rank restores rank 0's best one.
        best = trainer.strategy.broadcast(checkpoint.best_model_path) or None
        val = trainer.validate(module, datamodule=datamodule, ckpt_path=best, verbose=False,
                               weights_only=True)[0]
        if not learned:  # a checkpoint all the same, so evaluate.py treats every model alike
            best = str(Path(checkpoint.dirpath) / f"{checkpoint.filename}.ckpt")
            trainer.save_checkpoint(best)
        test = trainer.test(module, datamodule=datamodule, ckpt_path=best, verbose=False,
                           weights_only=True)[0]
        results = {
            "val": val, "test": test, "best_ckpt": best,
            "best_epoch": _best_epoch(best), "optimized_metric": cfg.optimized_metric,
            "provenance": prov, "world_size": trainer.world_size,
        }
        if not trainer.is_global_zero:  # every rank holds the same metrics; rank 0 reports
            return results
        write_json(out_dir / "results.json", results)
        save_popularity_plots(module, "test", out_dir, loggers)
        for logger in loggers:
            if hasattr(logger, "experiment") and hasattr(logger.experiment, "summary"):
                logger.experiment.summary.update({**val, **test})
        log_segment_tables(loggers, {**val, **test})
        print(metric_table(val, test), flush=True)
        print(f"results: {out_dir / 'results.json'}", flush=True)
        finish_wandb(0)
        return results
    except BaseException:
        finish_wandb(1)
        raise


def _best_epoch(ckpt: str | None) -> int | None:
    if not ckpt:
        return None
    import torch

    return torch.load(ckpt, map_location="cpu", weights_only=True).get("epoch")


def run_cli(fn, cfg: DictConfig):
    """Runs an entry point, printing user errors as one clear line (exit code 2)."""
    try:
        return fn(cfg)
    except USER_ERRORS as e:
        print(f"graphrec: error: {e}", file=sys.stderr)
        sys.exit(2)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    results = run_cli(train, cfg)
    metric = cfg.get("optimized_metric")
    # Sweepers (Optuna) read the return value as the objective.
    return results["val"].get(metric) if metric else None


if __name__ == "__main__":
    main()
