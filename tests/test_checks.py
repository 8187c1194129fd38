"""The config checks on hard values: NaN, infinities, bools and strings that look numeric."""

import math

import pytest

from graphrec.checks import check_data_args, check_train_config, integer, number
from graphrec.utils.errors import ConfigError


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, True, "0.1", None, [0.1]])
def test_number_refuses_what_is_not_a_finite_number(value):
    with pytest.raises(ConfigError, match=r"^model\.lr=.*: must be a number"):
        number("model.lr", value, 0, low_open=True)


def test_number_bounds_open_and_closed():
    assert number("k", 1e300, 0, low_open=True) == 1e300
    assert number("k", 0, 0) == 0.0
    with pytest.raises(ConfigError, match=r"k=0: must be in \(0, inf\)"):
        number("k", 0, 0, low_open=True)
    with pytest.raises(ConfigError, match=r"k=1: must be in \[0, 1\)"):
        number("k", 1, 0, 1, high_open=True)


@pytest.mark.parametrize("value", [1.0, True, "3", None])
def test_integer_refuses_floats_bools_and_strings(value):
    with pytest.raises(ConfigError, match="must be a whole number"):
        integer("trainer.max_epochs", value, 1)


def test_defaults_pass_and_each_bad_value_is_named():
    check_data_args(0.1, 0.1, False, 100, 0, "full", {"batch_size": 1024})
    with pytest.raises(ConfigError, match=r"data.val_ratio=0.5, data.test_ratio=0.5"):
        check_data_args(0.5, 0.5, False, 100, 0, "full", None)
    with pytest.raises(ConfigError, match=r"data.neighbor.eval_batch_size=0"):
        check_data_args(0.1, 0.1, False, 100, 0, "neighbor", {"eval_batch_size": 0})


def test_train_config_checks_the_composed_values(tmp_path):
    from conftest import make_cfg

    check_train_config(make_cfg(tmp_path))
    with pytest.raises(ConfigError, match=r"task.friend.neg_ratio=0"):
        check_train_config(make_cfg(tmp_path, ["task.friend.neg_ratio=0"]))
