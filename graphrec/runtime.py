"""What the entry points share: the config folder, building the data, printing user errors,
reading a checkpoint safely and rebuilding its model.

Researchers share checkpoints, so opening one must never run code from it:

* files are read with ``torch.load(weights_only=True)``, which unpickles tensors and plain
  containers only (a planted ``__reduce__`` is refused, not called);
* the run config stored inside is data: a ``_target_`` in it is built only when it names a
  class of graphrec itself, checked *before* anything is imported (importing a module runs
  it), so a tampered config cannot reach ``os.system`` or ``shutil`` through Hydra.
"""

from __future__ import annotations

import pickle
import sys
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import hydra
from hydra.errors import InstantiationException

from graphrec.utils.errors import (
    ConfigError,
    DataFormatError,
    DataMissingError,
    NonFiniteError,
    SchemaError,
)
from graphrec.utils.hydra_callbacks import register_resolvers

# graphrec/configs is the top-level configs/ (a link in a checkout, files in a wheel).
CONFIG_DIR = str(Path(__file__).resolve().parent / "configs")
# What a user can fix: the entry points print these as one line and exit with code 2.
USER_ERRORS = (ConfigError, DataMissingError, DataFormatError, SchemaError, NonFiniteError)
register_resolvers()  # before any config is resolved, also when composed without the CLI

# The LightningModules a checkpoint may name (the model config's ``_target_``).
MODULES = ("graphrec.module.GraphRecModule", "graphrec.heuristic_module.HeuristicModule")
DEFAULT_MODULE = MODULES[0]
_PACKAGE = "graphrec."


def build_datamodule(cfg_data, tasks: dict):
    """Instantiates ``cfg.data`` for ``tasks``, turning config mistakes into ConfigError."""
    if not tasks:
        raise ConfigError("no task selected; choose some, e.g. task=[friend,sentiment]")
    try:
        # Tasks are given at call time: their _target_ names a task class for the datamodule
        # to split with, not something Hydra should build.
        return hydra.utils.instantiate(cfg_data, _partial_=True, _convert_="all")(tasks=tasks)
    except InstantiationException as e:
        cause = e.__cause__ or e
        if isinstance(cause, USER_ERRORS):
            raise cause from None
        raise ConfigError(f"could not build data from config: {cause}") from None


def composed_datamodule(overrides: Iterable[str] = ()):
    """``train.yaml`` composed with ``overrides``, its tasks, and its datamodule set up: what
    the one-off check scripts start from. Returns ``(cfg, tasks, datamodule)``."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=list(overrides))
    tasks = OmegaConf.to_container(cfg.task, resolve=True)
    datamodule = build_datamodule(cfg.data, tasks)
    datamodule.setup()
    return cfg, tasks, datamodule


def first_line(e: BaseException) -> str:
    """An exception's message on one line (its first non-empty one), or its class name."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return lines[0] if lines else type(e).__name__


def user_error_exit(e: BaseException) -> None:
    """Prints a user error as the one line ``graphrec: error: ...`` and exits with code 2."""
    print(f"graphrec: error: {' '.join(str(e).split())}", file=sys.stderr)
    sys.exit(2)


def run_cli(fn, cfg):
    """Runs an entry point, printing user errors as one clear line (exit code 2).

    Errors that Hydra wraps while building a configured object, and OmegaConf's errors about
    the config itself (a missing mandatory value, a bad interpolation), are config mistakes
    too: they are reduced to their own one line.
    """
    from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

    try:
        return fn(cfg)
    except USER_ERRORS as e:
        user_error_exit(e)
    except InstantiationException as e:
        cause = e.__cause__ or e
        if isinstance(cause, USER_ERRORS):
            user_error_exit(cause)
        user_error_exit(ConfigError(f"could not build from config: {first_line(cause)}"))
    except MissingMandatoryValue as e:
        key = getattr(e, "full_key", None) or "a mandatory value"
        user_error_exit(ConfigError(f"{key} is not set; pass {key}=... on the command line"))
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None)
        user_error_exit(ConfigError(f"{key + ': ' if key else ''}{first_line(e)}; set it on "
                                    "the command line, e.g. key=value"))


def load_checkpoint(path: str | Path) -> dict:
    """Reads a graphrec checkpoint without running any code from it.

    Raises:
        DataMissingError: no file at ``path``.
        ConfigError: the file is empty, truncated, corrupt, holds pickled code, or was not
            written by graphrec training (one line naming the file and the fix).
    """
    import torch  # here, not at the top: the entry points report config mistakes before torch

    path = Path(path)
    if not path.is_file():
        raise DataMissingError(
            f"checkpoint {path} does not exist; pass ckpt_path=<run>/checkpoints/best.ckpt")
    fix = "pass a best.ckpt or last.ckpt written by graphrec training"
    if path.stat().st_size == 0:
        raise ConfigError(f"checkpoint {path} is empty (0 bytes); {fix}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # weights_only refuses anything but tensors and plain containers: code, or garbage.
        first = first_line(e).split(". ")[0].rstrip(".")
        raise ConfigError(f"checkpoint {path} holds objects that are not tensors or plain data "
                          f"and was not opened ({first[:160]}); {fix}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, KeyError) as e:
        # torch's first sentence says what failed; the rest is advice about its internals.
        first = first_line(e).split(". ")[0]
        raise ConfigError(f"checkpoint {path} is truncated or corrupt ({first[:160]}); "
                          f"{fix}") from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("graphrec"), dict):
        raise ConfigError(f"{path} was not written by graphrec training (no run config inside); "
                          f"{fix}")
    for key in ("state_dict", "hyper_parameters"):
        if not isinstance(ckpt.get(key), Mapping):
            raise ConfigError(f"checkpoint {path} has no {key}; {fix}")
    info = ckpt["graphrec"]
    if not isinstance(info.get("config"), Mapping) or not isinstance(info.get("provenance"),
                                                                     Mapping):
        raise ConfigError(f"checkpoint {path} has no run config or provenance; {fix}")
    return ckpt


def _targets(node, where: str = "") -> Iterable[tuple[str, object]]:
    """Every ``_target_`` value in a nested config, with its dotted location."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            here = f"{where}.{key}" if where else str(key)
            if key == "_target_":
                yield here, value
            else:
                yield from _targets(value, here)
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _targets(value, f"{where}[{i}]")


def check_targets(config: Mapping, source: str, trusted: Iterable[str] = ()) -> None:
    """Refuses a stored config whose ``_target_`` values are not graphrec classes.

    Args:
        config: the config read from a file (a checkpoint's run config).
        source: the file, for the message.
        trusted: extra fully qualified class names the user vouches for (their own source
            class, say), allowed as well.

    Raises:
        ConfigError: a ``_target_`` outside graphrec (checked before importing anything) or
            one that does not resolve to a graphrec class.
    """
    trusted = set(trusted)
    for where, target in _targets(config):
        if isinstance(target, str) and target in trusted:
            continue
        if not isinstance(target, str) or not target.startswith(_PACKAGE):
            raise ConfigError(
                f"{source} asks to build {where}={target!r}, which is not a graphrec class; "
                "only graphrec's own classes are built from a stored config (if you trust this "
                f"file, pass trusted_targets=[{target}])")
        try:
            obj = hydra.utils.get_object(target)
        except Exception:
            obj = None
        if not isinstance(obj, type) or not obj.__module__.startswith(_PACKAGE):
            raise ConfigError(f"{source} asks to build {where}={target!r}, which is not a class "
                              "of graphrec; the file was written by another version or edited")


def module_from_checkpoint(ckpt: dict, source: str):
    """The trained LightningModule of a checkpoint read by :func:`load_checkpoint`."""
    target = ckpt["graphrec"]["config"].get("model", {}).get("_target_", DEFAULT_MODULE)
    if target not in MODULES:
        raise ConfigError(f"{source} names model {target!r}; a checkpoint may name one of "
                          f"{', '.join(MODULES)}")
    module_cls = hydra.utils.get_class(target)
    # The module resolves its parts' class paths (model.encoder._target_) from these.
    check_targets(ckpt["hyper_parameters"], source)
    try:
        module = module_cls(**ckpt["hyper_parameters"])
        module.load_state_dict(ckpt["state_dict"])
    except (TypeError, ValueError, KeyError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"checkpoint {source} does not fit its own model ({first[:200]}); it "
                          "was written by another version of graphrec or edited") from None
    return module


def rebuild_from_checkpoint(path: str | Path, trusted: Iterable[str] = (),
                            eval_negatives: str | None = None):
    """Data and model of a checkpoint, exactly as trained, from the checkpoint alone.

    The stored config is data: of what is built from it (data and model), only graphrec's
    own classes may be (plus ``trusted``). The rebuilt data and split must hash to the
    fingerprints recorded at training, so a changed file or generator cannot pass silently.

    Returns:
        ``(ckpt, datamodule, module)``: the checkpoint dict, the set-up datamodule and the
        trained LightningModule.

    Args:
        path: the checkpoint.
        trusted: class paths outside graphrec the user vouches for.
        eval_negatives: rank the same held-out pairs against other negatives (``heart``:
            HeaRT-style hard ones); the pairs themselves must still be the trained ones.

    Raises:
        ConfigError: untrusted targets, or data that differs from the data trained on.
        DataMissingError: no checkpoint at ``path``.
    """
    from omegaconf import OmegaConf

    from graphrec.utils.provenance import fingerprint

    path = Path(path)
    ckpt = load_checkpoint(path)
    info = ckpt["graphrec"]
    built = {k: info["config"].get(k) for k in ("data", "model")}
    check_targets(built, str(path), trusted or ())
    run_cfg = OmegaConf.create(info["config"])
    if eval_negatives:
        run_cfg.data.eval_negatives = eval_negatives
    datamodule = build_datamodule(run_cfg.data, OmegaConf.to_container(run_cfg.task))
    datamodule.setup()
    trained_on = info["provenance"]
    for what in ("data", "split"):
        now = getattr(datamodule, f"{what}_fingerprint")
        if what == "split" and eval_negatives:
            # The held-out pairs must be the trained ones; only their negatives are new (for
            # checkpoints trained with the splits' own uniform negatives).
            now = fingerprint(datamodule.splits)
        if now != trained_on[f"{what}_fingerprint"]:
            raise ConfigError(
                f"the {what} rebuilt from the checkpoint's config (fingerprint {now}) differs "
                f"from the one it was trained on ({trained_on[f'{what}_fingerprint']}): the data "
                "files or the generator changed since training")
    # The checkpoint is already in memory: rebuild from its saved hyperparameters.
    return ckpt, datamodule, module_from_checkpoint(ckpt, str(path))
