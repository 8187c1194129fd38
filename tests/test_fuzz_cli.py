"""Bad inputs through the real entry points: each ends in exactly one line on stderr that
names the bad value and the fix, exit code 2, and no results.json.

Each case is ``(id, script, arguments, data files, words the line must hold)``. Arguments may
name ``{ckpt}`` (a tiny trained checkpoint), ``{bad}`` (a bad checkpoint file written for the
case) and ``{run}`` (the case's run folder). Data files are written under the case's own
``GRAPHREC_DATA_DIR``: small malformed copies of the real formats.

``python tests/test_fuzz_cli.py`` prints the table of cases and messages (docs/runs.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TRAIN = ["data=synthetic_tiny", "logger=csv", "trainer.max_epochs=1"]
EGO = ["data=ego_facebook", "task=[friend]", "logger=csv", "trainer.max_epochs=1"]
SST2 = ["data=sst2", "task=[sentiment]", "logger=csv", "trainer.max_epochs=1"]
FB = "ego-facebook/facebook_combined.txt"
GOOD_SST2 = {f"sst2/{f}": "sentence\tlabel\nfine film\t1\nbad film\t0\n"
             for f in ("train.tsv", "dev.tsv", "test_labeled.tsv")}

# Bad checkpoint files, by name: how to write each from a good checkpoint's bytes.
BAD_CKPTS = {
    "empty": lambda good: b"",
    "truncated": lambda good: good[: len(good) // 2],
    "garbage": lambda good: bytes(range(256)) * 64,
}

CASES = [
    # Values of the config, checked before torch is imported.
    ("lr_not_a_number", "train", [*TRAIN, "model.lr=abc"], {}, ["model.lr=abc", "number"]),
    ("lr_negative", "train", [*TRAIN, "model.lr=-0.1"], {}, ["model.lr=-0.1", "(0, inf)"]),
    ("weight_decay_negative", "train", [*TRAIN, "model.weight_decay=-1"], {},
     ["model.weight_decay=-1", "[0, inf)"]),
    ("supervision_ratio_above_1", "train", [*TRAIN, "model.supervision_ratio=1.5"], {},
     ["model.supervision_ratio=1.5", "[0, 1]"]),
    ("loss_weighting_unknown", "train", [*TRAIN, "model.loss_weighting=learned"], {},
     ["model.loss_weighting=learned", "static, uncertainty"]),
    ("encoder_layers_negative", "train", [*TRAIN, "model.encoder.num_layers=-1"], {},
     ["model.encoder.num_layers=-1", ">= 0"]),
    ("encoder_width_text", "train", [*TRAIN, "model.encoder.hidden_channels=wide"], {},
     ["model.encoder.hidden_channels=wide", "whole number"]),
    ("decoder_option_of_another", "train", [*TRAIN, "model/decoder=dot",
                                            "+model.decoder.hidden=8"], {},
     ["model.decoder", "DotProduct", "hidden", "~model.decoder.hidden"]),
    ("dropout_1", "train", [*TRAIN, "model.encoder.dropout=1.0"], {},
     ["model.encoder.dropout=1.0", "[0, 1)"]),
    ("max_epochs_text", "train", [*TRAIN[:2], "trainer.max_epochs=abc"], {},
     ["trainer.max_epochs=abc", "whole number"]),
    ("max_epochs_0", "train", [*TRAIN[:2], "trainer.max_epochs=0"], {},
     ["trainer.max_epochs=0", ">= 1"]),
    ("max_epochs_negative", "train", [*TRAIN[:2], "trainer.max_epochs=-1"], {},
     ["trainer.max_epochs=-1", ">= 1"]),
    ("val_every_0", "train", [*TRAIN, "trainer.check_val_every_n_epoch=0"], {},
     ["trainer.check_val_every_n_epoch=0", ">= 1"]),
    ("neighbor_batch_0", "train", [*TRAIN, "data.neighbor.batch_size=0"], {},
     ["data.neighbor.batch_size=0", ">= 1"]),
    ("neighbor_fanout_0", "train", [*TRAIN, "data.loader=neighbor",
                                    "data.neighbor.num_neighbors=[0,5]"], {},
     ["data.neighbor.num_neighbors=[0, 5]", "fan-out"]),
    ("val_ratio_0", "train", [*TRAIN, "data.val_ratio=0"], {}, ["data.val_ratio=0", "(0, 1)"]),
    ("val_ratio_text", "train", [*TRAIN, "data.val_ratio=half"], {},
     ["data.val_ratio=half", "number"]),
    ("test_ratio_1.5", "train", [*TRAIN, "data.test_ratio=1.5"], {},
     ["data.test_ratio=1.5", "(0, 1)"]),
    ("ratios_sum_1", "train", [*TRAIN, "data.val_ratio=0.5", "data.test_ratio=0.5"], {},
     ["data.val_ratio=0.5, data.test_ratio=0.5", "less than 1"]),
    ("eval_negatives_0", "train", [*TRAIN, "data.num_eval_negatives=0"], {},
     ["data.num_eval_negatives=0", ">= 1"]),
    ("loader_unknown", "train", [*TRAIN, "data.loader=fast"], {},
     ["data.loader=fast", "full, neighbor"]),
    ("temporal_not_bool", "train", [*TRAIN, "data.temporal=maybe"], {},
     ["data.temporal=maybe", "true or false"]),
    ("seed_text", "train", [*TRAIN, "seed=abc"], {}, ["seed=abc", "whole number"]),
    ("metric_of_unknown_task", "train", [*TRAIN, "optimized_metric=val/frend/mrr"], {},
     ["optimized_metric=val/frend/mrr", "val/score"]),
    ("checkpoint_mode_unknown", "train", [*TRAIN, "callbacks.model_checkpoint.mode=maximum"], {},
     ["callbacks.model_checkpoint.mode=maximum", "max, min"]),
    ("patience_0", "train", [*TRAIN, "callbacks.early_stopping_patience=0"], {},
     ["callbacks.early_stopping_patience=0", ">= 1"]),
    ("neg_ratio_0", "train", [*TRAIN, "task=[friend]", "task.friend.neg_ratio=0"], {},
     ["task.friend.neg_ratio=0", ">= 1"]),
    ("loss_weight_text", "train", [*TRAIN, "task=[friend]", "task.friend.loss_weight=heavy"], {},
     ["task.friend.loss_weight=heavy", "number"]),
    ("ks_0", "train", [*TRAIN, "task=[friend]", "task.friend.ks=[0,10]"], {},
     ["task.friend.ks=[0, 10]", "positive"]),
    ("no_task", "train", [*TRAIN, "task=[]"], {}, ["no task selected", "task=[friend"]),
    ("logger_unknown", "train", [*TRAIN[::2], "logger=tensorboard"], {},
     ["logger: there is no option 'tensorboard'", "csv, none, wandb"]),
    ("logger_null", "train", [*TRAIN[::2], "logger=null"], {}, ["logger=null", "logger=none"]),
    # Composition: options and keys that do not exist, overrides that do not parse.
    ("task_misspelt", "train", [*TRAIN, "task=[frend]"], {},
     ["'frend'", "content, friend"]),
    ("encoder_unknown", "train", [*TRAIN, "model/encoder=gcnn"], {}, ["'gcnn'", "sage"]),
    ("data_unknown", "train", ["data=nope", "logger=csv"], {}, ["'nope'", "synthetic_tiny"]),
    ("key_unknown", "train", [*TRAIN, "data.batch_size=0"], {},
     ["data.batch_size=0", "no key data.batch_size", "+data.batch_size=0"]),
    ("override_unparsable", "train", [*TRAIN[:2], "trainer.max_epochs=["], {},
     ["'trainer.max_epochs=['", "key=value"]),
    ("sweep_without_multirun", "train", [*TRAIN, "seed=1,2"], {}, ["seed=1,2", "--multirun"]),
    # Resume and checkpoints.
    ("resume_missing_folder", "train", ["resume={run}/nowhere"], {},
     ["nowhere", "folder does not exist", "resume=<run folder>"]),
    ("resume_without_last_ckpt", "train", ["resume={run}"], {".hydra/overrides.yaml": "[]\n"},
     ["checkpoints/last.ckpt does not exist", "start it again"]),
    ("train_ckpt_truncated", "train", [*TRAIN, "ckpt_path={bad}"], {"bad": "truncated"},
     ["truncated or corrupt (PytorchStreamReader failed", "last.ckpt written by graphrec"]),
    ("train_ckpt_of_other_tasks", "train", [*TRAIN, "task=[friend,career]", "ckpt_path={ckpt}"],
     {}, ["task=[friend] -> task=[friend,career]", "resume=<run>"]),
    ("eval_ckpt_missing", "eval", ["ckpt_path={run}/none.ckpt"], {},
     ["none.ckpt does not exist", "ckpt_path=<run>"]),
    ("eval_ckpt_empty", "eval", ["ckpt_path={bad}"], {"bad": "empty"},
     ["is empty", "best.ckpt or last.ckpt"]),
    ("eval_ckpt_truncated", "eval", ["ckpt_path={bad}"], {"bad": "truncated"},
     ["truncated or corrupt", "best.ckpt or last.ckpt"]),
    ("eval_ckpt_garbage", "eval", ["ckpt_path={bad}"], {"bad": "garbage"},
     ["bad.ckpt", "best.ckpt or last.ckpt"]),
    ("eval_ckpt_unset", "eval", [], {}, ["ckpt_path is not set", "ckpt_path=..."]),
    # Data files: malformed copies of the real formats.
    ("ego_text_id", "train", EGO, {FB: "0 1\n1 2\n2 x\n"}, ["line 3: '2 x'", "'u v'"]),
    ("ego_one_column", "train", EGO, {FB: "# SNAP\n0 1\n1 2\n3\n"}, ["line 4: '3'", "'u v'"]),
    ("ego_empty", "train", EGO, {FB: ""}, ["holds no edges", "'u v'"]),
    ("ego_negative_id", "train", EGO, {FB: "0 1\n-3 2\n"}, ["negative id in edge 2", "'u v'"]),
    ("ego_temporal", "train", [*EGO, "data.temporal=true"], {FB: "0 1\n1 2\n2 3\n3 0\n"},
     ["data.temporal=true", "data.temporal=false"]),
    ("ego_cannot_serve_task", "train", [*EGO[:1], "task=[career]", *EGO[2:]],
     {FB: "0 1\n1 2\n2 3\n3 0\n"}, ["task 'career'", "data=synthetic"]),
    ("sst2_empty_train", "train", SST2, {**GOOD_SST2, "sst2/train.tsv": "sentence\tlabel\n"},
     ["train.tsv holds no rows"]),
    ("sst2_text_label", "train", SST2,
     {**GOOD_SST2, "sst2/dev.tsv": "sentence\tlabel\nfine film\tpos\n"},
     ["dev.tsv", "label 'pos'", "<text><TAB><label>"]),
    ("sst2_no_header", "train", SST2, {**GOOD_SST2, "sst2/train.tsv": "fine film\t1\n"},
     ["train.tsv", "sentence<TAB>label"]),
    ("sst2_no_tab", "train", SST2,
     {**GOOD_SST2, "sst2/test_labeled.tsv": "sentence\tlabel\nfine film 1\n"},
     ["test_labeled.tsv line 2", "fewer columns"]),
]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """A tiny trained checkpoint (task friend), shared by the checkpoint cases."""
    from conftest import make_cfg

    from graphrec.train import train

    out = tmp_path_factory.mktemp("ckpt")
    train(make_cfg(out, ["task=[friend]", "trainer.max_epochs=1",
                         "trainer.check_val_every_n_epoch=1"]))
    return out / "checkpoints" / "last.ckpt"


def run_case(case, tmp: Path, ckpt: Path) -> subprocess.CompletedProcess:
    _, script, args, files, _ = case
    run = tmp / "run"
    data = tmp / "data"
    bad = tmp / "bad.ckpt"
    for rel, text in files.items():
        if rel == "bad":
            bad.write_bytes(BAD_CKPTS[text](ckpt.read_bytes()))
            continue
        path = (run if rel.startswith(".hydra") else data) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    args = [a.format(ckpt=ckpt, bad=bad, run=run) for a in args]
    # Warnings of the libraries (deprecations at import) are not the entry point's output.
    env = {k: v for k, v in os.environ.items() if k not in ("HYDRA_FULL_ERROR", "WANDB_API_KEY")}
    env.update(GRAPHREC_DATA_DIR=str(data), GRAPHREC_LOG_DIR=str(tmp / "logs"),
               OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore", WANDB_MODE="offline")
    if not any(a.startswith("resume=") for a in args):
        args.append(f"hydra.run.dir={run}")
    name = "train.py" if script == "train" else "evaluate.py"
    return subprocess.run([sys.executable, str(ROOT / "scripts" / name), *args],
                          capture_output=True, text=True, env=env, cwd=tmp, timeout=300)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_line_and_exit_2(case, tmp_path, ckpt):
    proc = run_case(case, tmp_path, ckpt)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith("graphrec: error: "), lines[0]
    for word in case[4]:
        assert word in lines[0], (word, lines[0])
    assert not list(tmp_path.rglob("results.json"))


def test_there_are_at_least_40_distinct_cases():
    assert len({c[0] for c in CASES}) == len(CASES) >= 40


if __name__ == "__main__":  # the table of docs/runs.md
    import tempfile

    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import make_cfg

    from graphrec.train import train

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ckpt"
        train(make_cfg(out, ["task=[friend]", "trainer.max_epochs=1",
                             "trainer.check_val_every_n_epoch=1"]))
        print("| case | command (after scripts/<script>.py) | exit | stderr |\n|---|---|---|---|")
        for i, case in enumerate(CASES):
            case_dir = Path(tmp) / str(i)
            case_dir.mkdir()
            proc = run_case(case, case_dir, out / "checkpoints" / "last.ckpt")
            line = proc.stderr.strip().replace(tmp, "<tmp>").replace("|", "\\|")
            args = " ".join(case[2]).replace("|", "\\|")
            files = {k: v for k, v in case[3].items() if k != "bad"}
            if files or "bad" in case[3]:  # what the case's files hold
                args += f" [{case[3]['bad']} checkpoint]" if "bad" in case[3] else ""
                args += "".join(f" [{k}: {v!r}]" for k, v in files.items()
                                if k not in GOOD_SST2 or v != GOOD_SST2[k])
            print(f"| {case[0]} | `{case[1]}: {args}` | {proc.returncode} | {line} |",
                  flush=True)
