"""Config values checked where they enter, each mistake one line naming its key and the fix.

The constructors (datamodule, module, tasks) call these on their own arguments. The entry
points run the same functions on the composed config before torch is imported
(:func:`check_train_config`), so a typo costs a second, not the half minute that loading
torch, PyG and Lightning takes. Only plain Python here, for that reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from graphrec.utils.errors import ConfigError

GRAPH_DATAMODULE = "graphrec.data.datamodule.GraphDataModule"
GRAPH_MODULE = "graphrec.module.GraphRecModule"
LOADERS = ("full", "neighbor")
TASK_KINDS = ("link", "node")
LOSS_WEIGHTINGS = ("static", "uncertainty")
MODES = ("max", "min")


def _fail(key: str, value, need: str) -> None:
    raise ConfigError(f"{key}={value}: {need}")


def number(key: str, value, low: float | None = None, high: float | None = None,
           low_open: bool = False, high_open: bool = False) -> float:
    """A finite real number within bounds (open or closed), else one-line ConfigError."""
    upper = "inf)" if high is None else f"{high}{')' if high_open else ']'}"
    bounds = f"{'(' if low_open else '['}{'-inf' if low is None else low}, {upper}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(key, value, f"must be a number in {bounds}, e.g. {key}={low if low else 0.1}"
              if low is not None else f"must be a number, e.g. {key}=0.1")
    if (low is not None and (value < low or (low_open and value == low))) or \
            (high is not None and (value > high or (high_open and value == high))):
        _fail(key, value, f"must be in {bounds}")
    return float(value)


def integer(key: str, value, low: int | None = None) -> int:
    """A whole number (not a bool or a string) of at least ``low``."""
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(key, value, f"must be a whole number{'' if low is None else f' >= {low}'}, e.g. "
              f"{key}={max(low or 0, 1)}")
    if low is not None and value < low:
        _fail(key, value, f"must be >= {low}")
    return value


def choice(key: str, value, options) -> str:
    if value not in options:
        shown = ("null" if o is None else str(o) for o in options)  # as YAML spells it
        _fail(key, value, f"choose one of {', '.join(shown)}")
    return value


def check_data_args(val_ratio, test_ratio, temporal, num_eval_negatives, split_seed, loader,
                    neighbor: Mapping | None) -> None:
    """The :class:`~graphrec.data.datamodule.GraphDataModule` arguments (keys ``data.*``)."""
    # Checkpoints are picked on validation, so an empty validation split cannot work.
    number("data.val_ratio", val_ratio, 0, 1, low_open=True, high_open=True)
    number("data.test_ratio", test_ratio, 0, 1, low_open=True, high_open=True)
    if val_ratio + test_ratio >= 1:
        raise ConfigError(f"data.val_ratio={val_ratio}, data.test_ratio={test_ratio}: they must "
                          "sum to less than 1 so that some data is left to train on")
    if not isinstance(temporal, bool):
        _fail("data.temporal", temporal, "must be true or false")
    integer("data.num_eval_negatives", num_eval_negatives, 1)
    integer("data.split_seed", split_seed)
    choice("data.loader", loader, LOADERS)
    if loader == "neighbor" or neighbor:
        check_neighbor_args(**dict(neighbor or {}))


def check_neighbor_args(num_neighbors=(15, 10), batch_size=1024, neg_sampling_ratio=1.0,
                        eval_batch_size=4096, eval_batch_edges=None, num_workers=0,
                        **_) -> None:
    """The mini-batch options (keys ``data.neighbor.*``)."""
    if not isinstance(num_neighbors, (list, tuple)) or not num_neighbors or any(
            isinstance(k, bool) or not isinstance(k, int) or (k < 1 and k != -1)
            for k in num_neighbors):
        _fail("data.neighbor.num_neighbors", num_neighbors,
              "give one positive fan-out per layer (-1: all neighbours), e.g. [15,10]")
    integer("data.neighbor.batch_size", batch_size, 1)
    integer("data.neighbor.eval_batch_size", eval_batch_size, 1)
    if eval_batch_edges is not None:
        integer("data.neighbor.eval_batch_edges", eval_batch_edges, 1)
    number("data.neighbor.neg_sampling_ratio", neg_sampling_ratio, 0, low_open=True)
    integer("data.neighbor.num_workers", num_workers, 0)


def check_module_args(lr, weight_decay, supervision_ratio, loss_weighting, encoder: Mapping,
                      head: Mapping | None) -> None:
    """The :class:`~graphrec.module.GraphRecModule` arguments (keys ``model.*``)."""
    number("model.lr", lr, 0, low_open=True)
    number("model.weight_decay", weight_decay, 0)
    if supervision_ratio is not None:
        number("model.supervision_ratio", supervision_ratio, 0, 1)
    choice("model.loss_weighting", loss_weighting, LOSS_WEIGHTINGS)
    for key in ("hidden_channels", "out_channels", "heads"):
        if key in encoder:
            integer(f"model.encoder.{key}", encoder[key], 1)
    if "num_layers" in encoder:  # 0: no message passing (the bag-of-words recipes)
        integer("model.encoder.num_layers", encoder["num_layers"], 0)
    for where, opts in (("encoder", encoder), ("head", head or {})):
        if "dropout" in opts:
            number(f"model.{where}.dropout", opts["dropout"], 0, 1, high_open=True)
    if head and "hidden" in head:  # 0: a linear head
        integer("model.head.hidden", head["hidden"], 0)


def check_task(name: str, spec: Mapping) -> None:
    """One task's config (keys ``task.<name>.*``)."""
    key = f"task.{name}"
    if not spec.get("_target_"):  # a task class by path is checked when it is resolved
        choice(f"{key}.kind", spec.get("kind"), TASK_KINDS)
    if "loss_weight" in spec:
        number(f"{key}.loss_weight", spec["loss_weight"], 0)
    if "neg_ratio" in spec:
        integer(f"{key}.neg_ratio", spec["neg_ratio"], 1)
    ks = spec.get("ks")
    if ks is not None and (not isinstance(ks, (list, tuple)) or not ks or any(
            isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks)):
        _fail(f"{key}.ks", ks, "give positive cut-offs, e.g. [10,20,50]")


def check_trainer(trainer: Mapping) -> None:
    """The Lightning Trainer values that Lightning accepts but that cannot give a result."""
    # 0 trains nothing and -1 never stops: neither ends with a trained, tested model.
    integer("trainer.max_epochs", trainer.get("max_epochs"), 1)
    if trainer.get("check_val_every_n_epoch") is not None:
        integer("trainer.check_val_every_n_epoch", trainer["check_val_every_n_epoch"], 1)


def check_run(seed, optimized_metric, tasks: Mapping, callbacks: Mapping) -> None:
    """Keys of the train config itself: ``seed``, ``optimized_metric``, ``callbacks.*``."""
    integer("seed", seed)
    parts = str(optimized_metric).split("/")
    if not (parts[:1] == ["val"] and (parts[1:] == ["score"] or (
            len(parts) == 3 and parts[1] in tasks and parts[2]))):
        _fail("optimized_metric", optimized_metric,
              "name a validation metric: val/score or val/<task>/<metric> of a selected task "
              f"({', '.join(tasks) or 'none selected'}), e.g. val/score")
    mode = (callbacks.get("model_checkpoint") or {}).get("mode", "max")
    choice("callbacks.model_checkpoint.mode", mode, MODES)
    patience = callbacks.get("early_stopping_patience")
    if patience is not None:
        integer("callbacks.early_stopping_patience", patience, 1)


def check_train_config(cfg) -> None:
    """Every check above on a composed train config (an OmegaConf DictConfig or a dict)."""
    from omegaconf import OmegaConf

    def plain(node):
        return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node

    tasks = plain(cfg.get("task")) or {}
    if not tasks:
        raise ConfigError("no task selected; choose some, e.g. task=[friend,sentiment]")
    for name, spec in tasks.items():
        check_task(name, spec)
    check_run(cfg.get("seed"), cfg.get("optimized_metric"), tasks,
              plain(cfg.get("callbacks")) or {})
    check_trainer(plain(cfg.get("trainer")) or {})
    data = plain(cfg.get("data")) or {}
    if data.get("_target_") == GRAPH_DATAMODULE:
        check_data_args(data.get("val_ratio", 0.1), data.get("test_ratio", 0.1),
                        data.get("temporal", False), data.get("num_eval_negatives", 100),
                        data.get("split_seed", 0), data.get("loader", "full"),
                        data.get("neighbor"))
    model = plain(cfg.get("model")) or {}
    if model.get("_target_") == GRAPH_MODULE:
        check_module_args(model.get("lr", 0.01), model.get("weight_decay", 0.0),
                          model.get("supervision_ratio"), model.get("loss_weighting", "static"),
                          model.get("encoder") or {}, model.get("head"))
