"""The command-line entry points: ``scripts/train.py`` and ``scripts/evaluate.py``.

Every mistake a user can fix ends in one line, ``graphrec: error: <what, and the fix>``, and
exit code 2: a config option that does not exist, a value out of range, a bad checkpoint or
data file. The overrides are composed once here before Hydra's app runs, so a composition
error reads as one line instead of Hydra's page; the composed values are checked
(:func:`graphrec.checks.check_train_config`) before torch, PyG and Lightning are imported,
which takes far longer than the check.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig

from graphrec.checks import check_train_config
from graphrec.resume import resume_argv
from graphrec.runtime import CONFIG_DIR, USER_ERRORS, first_line, run_cli, user_error_exit


def _unparsable(args: list[str]) -> str:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for arg in args:
        try:
            parser.parse_override(arg)
        except HydraException:
            return arg
    return " ".join(args)


def _composition_message(e: HydraException, args: list[str]) -> str:
    """Hydra's multi-line composition error as one line naming the bad option and the fix."""
    if isinstance(e, MissingConfigException) and e.missing_cfg_file:
        group, _, bad = e.missing_cfg_file.rpartition("/")
        folder = Path(CONFIG_DIR) / group
        options = e.options or sorted(p.stem for p in folder.glob("*.yaml"))
        if group and options:
            return f"{group}: there is no option '{bad}'; choose from {', '.join(options)}"
    if isinstance(e, OverrideParseException):
        return f"{_unparsable(args)!r} is not a valid override ({first_line(e)}); write key=value"
    text = str(e)
    if text.startswith("Could not override '"):
        key = text.split("'")[1]
        value = next((a.split("=", 1)[1] for a in args if a.split("=", 1)[0] == key), "...")
        return (f"{key}={value}: the config has no key {key} (check its spelling; "
                f"add a new key with +{key}={value})")
    # Drop Hydra's config search path and links: the rest is the message.
    lines = [ln.strip() for ln in str(e).splitlines()]
    if "Config search path:" in lines:
        lines = lines[:lines.index("Config search path:")]
    return " ".join(ln for ln in lines if ln and not ln.startswith("See https://"))


def check_overrides(config_name: str, args: list[str]) -> None:
    """Composes ``config_name`` with ``args`` as Hydra will, raising a one-line ConfigError.

    Skipped when Hydra flags are given (``-m``, ``--cfg``, ...): Hydra handles those itself.
    """
    from graphrec.utils.errors import ConfigError

    if any(a.startswith("-") for a in args):
        return
    from hydra import compose, initialize_config_dir

    try:
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            compose(config_name, overrides=args, return_hydra_config=True)
    except HydraException as e:
        raise ConfigError(_composition_message(e, args)) from None
    except ValueError as e:  # Hydra refuses `group=null` for a group with a default
        if "Config group override must be a string or a list" not in str(e):
            raise
        bad = next((a for a in args if a.endswith("=null")), "<group>=null")
        group = bad.split("=", 1)[0]
        fix = "logger=none" if group == "logger" else f"~{group} (removes it)"
        raise ConfigError(f"{bad}: a config group cannot be set to null on the command line; "
                          f"write {fix}") from None


def _run(hydra_main, config_name: str, resume: bool = False) -> None:
    args = sys.argv[1:]
    try:
        if resume:
            args = resume_argv(args)
        check_overrides(config_name, args)
    except USER_ERRORS as e:
        user_error_exit(e)
    sys.argv = [sys.argv[0], *args]
    hydra_main()


def _train(cfg: DictConfig) -> dict:
    check_train_config(cfg)
    from graphrec.train import train

    return train(cfg)


def _evaluate(cfg: DictConfig) -> dict:
    from graphrec.evaluate import evaluate

    return evaluate(cfg)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def _train_app(cfg: DictConfig) -> float | None:
    results = run_cli(_train, cfg)
    metric = cfg.get("optimized_metric")
    # Sweepers (Optuna) read the return value as the objective.
    return results["val"].get(metric) if metric else None


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def _evaluate_app(cfg: DictConfig) -> None:
    run_cli(_evaluate, cfg)


def _recommend(cfg: DictConfig) -> dict:
    from graphrec.recommend import recommend

    return recommend(cfg)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="recommend")
def _recommend_app(cfg: DictConfig) -> None:
    run_cli(_recommend, cfg)


def train_main() -> None:
    """``scripts/train.py [overrides]``; ``resume=<run folder>`` continues a killed run."""
    _run(_train_app, "train", resume=True)


def evaluate_main() -> None:
    """``scripts/evaluate.py ckpt_path=<run>/checkpoints/best.ckpt``."""
    _run(_evaluate_app, "eval")


def recommend_main() -> None:
    """``scripts/recommend.py ckpt_path=<run>/checkpoints/best.ckpt task=friend k=20``."""
    _run(_recommend_app, "recommend")
