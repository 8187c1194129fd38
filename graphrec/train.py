"""Training: ``train(cfg)`` is pure (tests call it); the command line is :mod:`graphrec.cli`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import hydra
import lightning as L
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from graphrec.checks import check_train_config
from graphrec.resume import check_same_config, check_same_data, resume_checkpoint, wandb_run_id
from graphrec.runtime import build_datamodule, first_line, load_checkpoint
from graphrec.utils.allocator import map_large_allocations
from graphrec.utils.errors import ConfigError
from graphrec.utils.loggers import build_loggers
from graphrec.utils.plots import save_popularity_plots
from graphrec.utils.provenance import provenance
from graphrec.utils.results import metric_table, write_json
from graphrec.utils.segments import log_segment_tables


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
    check_train_config(cfg)  # before any data is built: a typo costs no generation
    resolved = OmegaConf.to_container(cfg, resolve=True)
    # Continuing (resume=<run> or ckpt_path=...): the checkpoint is opened safely and must
    # come from the same config; its data and split are compared once they are built.
    ckpt_path = resume_checkpoint(cfg)
    ckpt = load_checkpoint(ckpt_path) if ckpt_path else None
    if ckpt is not None:
        check_same_config(ckpt, ckpt_path, resolved)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tasks = OmegaConf.to_container(cfg.task, resolve=True) or {}
    datamodule = build_datamodule(cfg.data, tasks)
    if datamodule.minibatch is not None:
        # Mini-batches are the path to large graphs: there freed data must return to the
        # system (graphrec.utils.allocator). Small full-graph runs keep glibc's default,
        # which ran the training tests 1.2x faster.
        map_large_allocations()
    datamodule.setup()
    try:
        module = hydra.utils.instantiate(cfg.model)(
            metadata=datamodule.metadata, node_specs=datamodule.node_specs, tasks=tasks)
    except ValueError as e:  # a model option no model can take (an unknown conv, say)
        raise ConfigError(f"model: {first_line(e)}") from None
    prov = provenance(cfg.seed, datamodule.data_fingerprint, datamodule.split_fingerprint)
    if ckpt is not None:
        check_same_data(ckpt, ckpt_path, prov)
        if "optimizer_states" not in ckpt:
            raise ConfigError(f"ckpt_path={ckpt_path} holds weights only (best checkpoints "
                              "do); continue from the run's checkpoints/last.ckpt, or evaluate "
                              "or recommend from this one")
    module.run_info = {"config": resolved, "provenance": prov, "raw_ids": datamodule.raw_ids}

    callbacks_cfg = OmegaConf.to_container(cfg.callbacks, resolve=True)
    checkpoint = _model_checkpoint(callbacks_cfg["model_checkpoint"])
    callbacks = [checkpoint, *_configured_callbacks(callbacks_cfg), *extra_callbacks]
    if cfg.callbacks.get("early_stopping_patience"):
        callbacks.append(EarlyStopping(monitor=cfg.optimized_metric,
                                       mode=cfg.callbacks.model_checkpoint.get("mode", "max"),
                                       patience=cfg.callbacks.early_stopping_patience))
    # One W&B run per run folder: a resumed run continues it instead of starting another.
    logger_specs = resolved.get("logger") or {}
    run_id = wandb_run_id(out_dir, resuming=bool(cfg.get("resume"))) \
        if "wandb" in logger_specs else None
    loggers = build_loggers(logger_specs, out_dir.name, run_id)
    trainer = _build_trainer(cfg.trainer, loggers, callbacks)
    for logger in loggers:
        logger.log_hyperparams({**resolved, "provenance": prov})
    try:
        learned = any(p.requires_grad for p in module.parameters())
        if learned:  # non-learned baselines (model=heuristic) have nothing to fit
            trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
            release_training_state(trainer.optimizers, module)
        # Under DDP only rank 0 saves checkpoints; every rank restores rank 0's best one.
        best = trainer.strategy.broadcast(checkpoint.best_model_path) or None
        val = trainer.validate(module, datamodule=datamodule, ckpt_path=best, verbose=False,
                               weights_only=True)[0]
        if cfg.optimized_metric not in val:  # else checkpoints were picked on nothing
            raise ConfigError(
                f"optimized_metric={cfg.optimized_metric} is not a validation metric of these "
                f"tasks; choose one of {', '.join(sorted(val))}")
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
    except MisconfigurationException as e:  # Lightning refusing a setting is a config mistake
        finish_wandb(1)
        raise ConfigError(f"trainer: {first_line(e)}") from None
    except BaseException:
        finish_wandb(1)
        raise


def release_training_state(optimizers: Sequence, module) -> None:
    """Drops the optimizer state and the gradients once training is over.

    Validation and test read the weights only, and resuming reads ``last.ckpt``, written
    during fit; at a million users the Adam moments of the ID and text tables are over a
    gigabyte that the layer-wise evaluation would otherwise have to fit beside.
    """
    for optimizer in optimizers:
        optimizer.state.clear()
    module.zero_grad(set_to_none=True)


def _model_checkpoint(spec: dict) -> ModelCheckpoint:
    """``callbacks.model_checkpoint``: a ``ModelCheckpoint`` (default: ``RunCheckpoint``)."""
    spec = {"_target_": "lightning.pytorch.callbacks.ModelCheckpoint", **spec}
    try:
        checkpoint = hydra.utils.instantiate(spec)
    except Exception as e:
        raise ConfigError(f"callbacks.model_checkpoint: {first_line(e.__cause__ or e)}") from None
    if not isinstance(checkpoint, ModelCheckpoint):
        raise ConfigError(f"callbacks.model_checkpoint._target_={spec['_target_']} is not a "
                          "ModelCheckpoint; training tests the best checkpoint it writes")
    return checkpoint


def _configured_callbacks(callbacks_cfg: dict) -> list:
    """Every ``callbacks.<name>`` with a ``_target_`` but the checkpoint, built in order."""
    out = []
    for name, spec in callbacks_cfg.items():
        if name == "model_checkpoint" or not isinstance(spec, dict) or "_target_" not in spec:
            continue
        try:
            out.append(hydra.utils.instantiate(spec))
        except Exception as e:  # a class that is not there, or bad arguments
            cause = e.__cause__ or e
            raise ConfigError(f"callbacks.{name}: {first_line(cause)}") from None
    return out


def _build_trainer(cfg_trainer, loggers: list, callbacks: list):
    """The configured Lightning Trainer; an option Lightning refuses is a one-line ConfigError."""
    from hydra.errors import InstantiationException

    try:
        return hydra.utils.instantiate(cfg_trainer, logger=loggers or False, callbacks=callbacks)
    except InstantiationException as e:
        cause = e.__cause__ or e
        kind = "" if isinstance(cause, MisconfigurationException) else f"{type(cause).__name__}: "
        raise ConfigError(f"trainer: {kind}{first_line(cause)}") from None


def _best_epoch(ckpt: str | None) -> int | None:
    if not ckpt:
        return None
    import torch

    return torch.load(ckpt, map_location="cpu", weights_only=True).get("epoch")
