"""Evaluation from a checkpoint alone: rebuild data and model, reproduce the test metrics."""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from graphrec.runtime import check_targets, load_checkpoint, module_from_checkpoint
from graphrec.train import CONFIG_DIR, build_datamodule, run_cli
from graphrec.utils.errors import ConfigError
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
    ckpt = load_checkpoint(path)
    info = ckpt["graphrec"]
    # The stored config is data: of what is built from it (data and model), only graphrec's
    # own classes may be.
    built = {k: info["config"].get(k) for k in ("data", "model")}
    check_targets(built, str(path), cfg.get("trusted_targets") or ())
    run_cfg = OmegaConf.create(info["config"])
    datamodule = build_datamodule(run_cfg.data, OmegaConf.to_container(run_cfg.task))
    datamodule.setup()
    trained_on = info["provenance"]
    for what in ("data", "split"):
        now = getattr(datamodule, f"{what}_fingerprint")
        if now != trained_on[f"{what}_fingerprint"]:
            raise ConfigError(
                f"the {what} rebuilt from the checkpoint's config (fingerprint {now}) differs "
                f"from the one it was trained on ({trained_on[f'{what}_fingerprint']}): the data "
                "files or the generator changed since training")
    # The checkpoint is already in memory: rebuild from its saved hyperparameters.
    module = module_from_checkpoint(ckpt, str(path))
    out_dir = Path(cfg.paths.output_dir)
    wandb_opts = OmegaConf.to_container(cfg.wandb, resolve=True) if cfg.get("wandb") else None
    loggers = build_loggers(cfg.get("logger"), out_dir, wandb_opts, out_dir.name)
    trainer = hydra.utils.instantiate(cfg.trainer, logger=loggers or False, callbacks=[])
    test = trainer.test(module, datamodule=datamodule, verbose=False)[0]
    results = {"test": test, "ckpt": str(path), "provenance": trained_on}
    write_json(out_dir / "results.json", results)
    save_popularity_plots(module, "test", out_dir, loggers)
    log_segment_tables(loggers, test)
    print(metric_table({}, test), flush=True)
    return results


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def main(cfg: DictConfig) -> None:
    run_cli(evaluate, cfg)


if __name__ == "__main__":
    main()
