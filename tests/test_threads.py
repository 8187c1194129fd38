"""The thread policy of graphrec's data-side hot loops: the cores other processes leave free,
never above the user's setting, restored after; batches do not depend on it."""

import os
import time

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.loader import NeighborLoader

from graphrec.data.sampler import TorchNeighborSampler
from graphrec.utils import threads
from graphrec.utils.threads import ThreadPolicy, follow_load


class FakeMachine:
    """Tick counters at 100 Hz: ``others`` cores busy elsewhere, ``own`` cores used by us."""

    def __init__(self, others: float, own: float = 1.0):
        self.t, self.others, self.own = 0.0, others, own
        self.machine_ticks = self.own_ticks = 0
        self.reads = 0

    def advance(self, seconds: float):
        self.t += seconds
        self.own_ticks += round(self.own * seconds * 100)
        self.machine_ticks += round((self.own + self.others) * seconds * 100)

    def policy(self, interval=0.5):
        return ThreadPolicy(interval, read_machine=self.read_machine,
                            read_own=lambda: self.own_ticks, clock=lambda: self.t)

    def read_machine(self):
        self.reads += 1
        return self.machine_ticks


@pytest.fixture
def four_cores(monkeypatch):
    monkeypatch.setattr(threads, "_CLOCK_TICKS", 100)
    monkeypatch.setattr(threads, "available_cores", lambda: 4)


@pytest.mark.parametrize(("others", "expected"), [(0.0, 4), (1.0, 3), (2.6, 1), (7.0, 1)])
def test_threads_are_the_cores_other_processes_leave_free(four_cores, others, expected):
    machine = FakeMachine(others, own=2.0)  # our own use never counts against us
    policy = machine.policy()
    assert policy.threads(ceiling=8) == 4  # no interval seen yet: the ceiling (cores)
    machine.advance(1.0)
    assert policy.threads(ceiling=8) == expected
    assert policy.busy_elsewhere == pytest.approx(others)
    assert policy.threads(ceiling=2) == min(2, expected)  # never above the user's setting


def test_load_is_read_at_most_once_per_interval(four_cores):
    machine = FakeMachine(3.0)
    policy = machine.policy(interval=0.5)
    policy.threads(8)
    machine.advance(0.2)
    assert policy.threads(8) == 4  # too soon to tell: the last decision stands
    assert machine.reads == 1  # and /proc was not read again
    machine.advance(0.4)
    assert policy.threads(8) == 1
    assert machine.reads == 2


def test_limit_applies_and_restores_the_setting(four_cores):
    machine = FakeMachine(3.0)
    policy = machine.policy()
    policy.threads(8)
    machine.advance(1.0)
    before = torch.get_num_threads()
    with policy.limit() as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_without_proc_the_setting_is_left_alone(four_cores):
    policy = ThreadPolicy(read_machine=lambda: None, read_own=lambda: None)
    assert policy.threads(ceiling=3) == 3


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="reads /proc")
def test_proc_counters_see_this_process_compute():
    # The fields read are this process's CPU time and the machine's busy time: half a second
    # of computing here must show in both (at 100 ticks/s, at least 25 ticks), the machine's
    # at least as much as ours.
    own0, machine0 = threads._own_ticks(), threads._machine_busy_ticks()
    start = time.process_time()
    while time.process_time() - start < 0.5:
        sum(range(10**4))
    own = threads._own_ticks() - own0
    machine = threads._machine_busy_ticks() - machine0
    ticks = 0.5 * threads._CLOCK_TICKS
    assert 0.5 * ticks <= own <= 3 * ticks, own
    assert machine >= own - 2, (machine, own)


def test_batches_are_the_same_whatever_the_policy_decides(four_cores):
    data = Data(edge_index=torch.randint(0, 500, (2, 5000), generator=torch.Generator()
                                         .manual_seed(0)), num_nodes=500)

    def batches(others):
        machine = FakeMachine(others)
        sampler = TorchNeighborSampler(data, [5, 3])
        sampler.thread_policy = machine.policy(interval=0.0)
        loader = follow_load(NeighborLoader(data, [5, 3], neighbor_sampler=sampler,
                                            batch_size=50), sampler.thread_policy)
        torch.manual_seed(1)
        out = []
        for batch in loader:
            machine.advance(1.0)
            out.append(batch.edge_index)
        return out

    free, busy = batches(0.0), batches(3.5)
    assert len(free) == 10 and all(torch.equal(a, b) for a, b in zip(free, busy, strict=True))


def test_step_threads_follow_the_batch_size_within_the_setting():
    assert threads.step_threads(0, ceiling=8) == 1
    assert threads.step_threads(199_999, ceiling=8, edges_per_thread=200_000) == 1
    assert threads.step_threads(400_000, ceiling=8, edges_per_thread=200_000) == 2
    assert threads.step_threads(10**9, ceiling=3, edges_per_thread=200_000) == 3


def test_batch_edges_counts_every_graph_in_a_batch():
    from torch_geometric.data import HeteroData

    hetero = HeteroData()
    hetero["user", "friend", "user"].edge_index = torch.zeros(2, 7, dtype=torch.long)
    hetero["user", "likes", "post"].edge_index = torch.zeros(2, 5, dtype=torch.long)
    plain = Data(edge_index=torch.zeros(2, 3, dtype=torch.long), num_nodes=1)
    batch = {"friend": hetero, "targets": {"friend": torch.ones(4)}, "more": [plain, (plain,)]}
    assert threads.batch_edges(batch) == 12 + 3 + 3
    assert threads.batch_edges(torch.ones(10)) == 0


def test_step_callback_sets_threads_for_the_step_and_restores_them():
    from graphrec.utils.callbacks import StepThreads

    before = torch.get_num_threads()
    torch.set_num_threads(4)
    try:
        callback = StepThreads(edges_per_thread=10)
        small = Data(edge_index=torch.zeros(2, 15, dtype=torch.long), num_nodes=1)
        large = Data(edge_index=torch.zeros(2, 30, dtype=torch.long), num_nodes=1)
        callback.on_train_batch_start(None, None, small, 0)
        assert torch.get_num_threads() == 1
        # Held between steps (the next batch's sampling runs with it), and the next step's
        # count still comes from the user's setting, not from the held one.
        callback.on_train_batch_end(None, None, None, small, 0)
        assert torch.get_num_threads() == 1
        callback.on_train_batch_start(None, None, large, 1)
        assert torch.get_num_threads() == 3
        callback.on_train_batch_start(None, None, Data(edge_index=torch.zeros(
            2, 90, dtype=torch.long), num_nodes=1), 2)
        assert torch.get_num_threads() == 4  # never above the setting
        callback.on_validation_start(None, None)  # validation runs at the setting
        assert torch.get_num_threads() == 4
        callback.on_train_batch_start(None, None, small, 3)
        callback.on_train_epoch_end(None, None)
        assert torch.get_num_threads() == 4
        callback.on_train_batch_start(None, None, small, 0)
        callback.on_exception(None, None, RuntimeError("stop"))  # a failed step restores too
        assert torch.get_num_threads() == 4
        callback.on_train_batch_start(None, None, small, 0)
        callback.on_fit_end(None, None)
        assert torch.get_num_threads() == 4
    finally:
        torch.set_num_threads(before)


def test_training_configures_the_step_rule():
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from graphrec.runtime import CONFIG_DIR
    from graphrec.train import _configured_callbacks
    from graphrec.utils.callbacks import StepThreads

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train")
    spec = OmegaConf.to_container(cfg.callbacks.step_threads, resolve=True)
    built = _configured_callbacks({"step_threads": spec})
    assert [c.edges_per_thread for c in built if isinstance(c, StepThreads)] == [200_000]
