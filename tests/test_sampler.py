"""Tests of the pure-torch neighbor sampler, run through PyG's real loaders."""

from __future__ import annotations

import inspect
import itertools
import math
import re

import pytest
import torch
import torch_geometric.typing
from torch_geometric.data import Data, HeteroData
from torch_geometric.loader import LinkNeighborLoader, NeighborLoader
from torch_geometric.sampler import NeighborSampler
from torch_geometric.utils import coalesce

from graphrec.data.sampler import (
    TorchNeighborSampler,
    compiled_sampler_available,
    make_neighbor_sampler,
)

HOMO = ("n", "to", "n")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(12345)


def random_edges(num_src, num_dst, num_edges, generator):
    """Random edges without duplicates, so a repeated neighbor is always a sampler bug."""
    src = torch.randint(0, num_src, (num_edges,), generator=generator)
    dst = torch.randint(0, num_dst, (num_edges,), generator=generator)
    return coalesce(torch.stack([src, dst]))


def random_graph(num_nodes=60, num_edges=500, seed=0):
    g = torch.Generator().manual_seed(seed)
    edge_index = random_edges(num_nodes, num_nodes, num_edges, g)
    num_edges = edge_index.size(1)
    return Data(
        edge_index=edge_index,
        x=torch.randn(num_nodes, 3, generator=g),
        edge_attr=torch.randn(num_edges, 2, generator=g),
        time=torch.randint(0, 20, (num_nodes,), generator=g),
        edge_time=torch.randperm(num_edges, generator=g),
        num_nodes=num_nodes,
    )


def random_hetero_graph(seed=0):
    g = torch.Generator().manual_seed(seed)
    data = HeteroData()
    data["user"].x = torch.randn(40, 3, generator=g)
    data["item"].x = torch.randn(50, 3, generator=g)
    data["user", "follows", "user"].edge_index = random_edges(40, 40, 200, g)
    data["user", "rates", "item"].edge_index = random_edges(40, 50, 250, g)
    data["item", "rated_by", "user"].edge_index = data["user", "rates", "item"].edge_index.flip(0)
    for store in data.edge_stores:
        store.edge_attr = torch.randn(store.num_edges, 2, generator=g)
    return data


def typed(data):
    """Node and edge stores by type, treating a homogeneous graph as single-typed."""
    if isinstance(data, HeteroData):
        return {t: data[t] for t in data.node_types}, {k: data[k] for k in data.edge_types}
    return {"n": data}, {HOMO: data}


def check_subgraph(batch, data, fanouts, edge_time=None, seed_time=None, distinct=True):
    """Checks a sampled mini-batch against the graph it came from.

    Args:
        batch: Mini-batch from a loader.
        data: The full graph.
        fanouts: Fan-out per hop, per edge type.
        edge_time: For temporal sampling, the time each edge is judged by (its own time or
            its source node's time), per edge type.
        seed_time: For temporal sampling, the time of each subgraph's seed.
        distinct: Whether a node appears at most once per subgraph; not so for disjoint
            link batches, where PyG merges the subgraphs of a link's two endpoints.
    """
    nodes, edges = typed(batch)
    full_nodes, full_edges = typed(data)
    disjoint = getattr(next(iter(nodes.values())), "batch", None) is not None
    num_hops = len(next(iter(fanouts.values())))

    for t, store in nodes.items():
        assert torch.equal(store.x, full_nodes[t].x[store.n_id])
        if distinct:
            key = store.n_id + (store.batch * full_nodes[t].num_nodes if disjoint else 0)
            assert key.unique().numel() == key.numel(), "a node appears twice in a subgraph"
        assert len(store.num_sampled_nodes) == num_hops + 1
        assert sum(store.num_sampled_nodes) == store.n_id.numel()
    node_ptr = {t: [0, *itertools.accumulate(s.num_sampled_nodes)] for t, s in nodes.items()}

    for edge_type, store in edges.items():
        src, _, dst = edge_type
        row, col = store.edge_index
        full_row, full_col = full_edges[edge_type].edge_index
        # Every sampled edge exists, and `e_id` points at exactly that edge.
        assert torch.equal(nodes[src].n_id[row], full_row[store.e_id])
        assert torch.equal(nodes[dst].n_id[col], full_col[store.e_id])
        assert torch.equal(store.edge_attr, full_edges[edge_type].edge_attr[store.e_id])
        if disjoint:
            assert torch.equal(nodes[src].batch[row], nodes[dst].batch[col])
        if edge_time is not None:
            limit = seed_time[nodes[dst].batch[col]]
            assert (edge_time[edge_type][store.e_id] <= limit).all(), "edge from the future"

        edge_ptr = [0, *itertools.accumulate(store.num_sampled_edges)]
        for hop in range(num_hops):
            lo, hi = node_ptr[dst][hop], node_ptr[dst][hop + 1]
            r = row[edge_ptr[hop] : edge_ptr[hop + 1]]
            c = col[edge_ptr[hop] : edge_ptr[hop + 1]]
            # Hop h expands exactly the nodes first reached in hop h - 1 ...
            assert ((c >= lo) & (c < hi)).all()
            assert (r < node_ptr[src][hop + 2]).all()
            # ... each by min(eligible in-degree, k) distinct neighbors.
            frontier = nodes[dst].n_id[lo:hi]
            eligible = full_col.unsqueeze(0) == frontier.unsqueeze(1)
            if edge_time is not None:
                limit = seed_time[nodes[dst].batch[lo:hi]]
                eligible &= edge_time[edge_type].unsqueeze(0) <= limit.unsqueeze(1)
            expected = eligible.sum(1)
            k = fanouts[edge_type][hop]
            if k >= 0:
                expected = expected.clamp(max=k)
            assert torch.equal(torch.bincount(c - lo, minlength=hi - lo), expected)
            pair = c * full_nodes[src].num_nodes + nodes[src].n_id[r]
            assert pair.unique().numel() == pair.numel(), "neighbor sampled twice"

    # New nodes are appended in the order they are first reached, edge type by edge type.
    for t in nodes:
        for hop in range(num_hops):
            rows = [
                store.edge_index[0, sum(store.num_sampled_edges[:hop]) :][
                    : store.num_sampled_edges[hop]
                ]
                for (src, _, _), store in edges.items()
                if src == t
            ]
            reached = torch.cat(rows).tolist() if rows else []
            first_seen = [i for i in dict.fromkeys(reached) if i >= node_ptr[t][hop + 1]]
            assert first_seen == list(range(node_ptr[t][hop + 1], node_ptr[t][hop + 2]))


def chi_square_ok(counts):
    """Goodness of fit of counts to the uniform distribution, at a 1e-3 level."""
    expected = counts.sum() / counts.numel()
    stat = float(((counts - expected) ** 2 / expected).sum())
    dof = counts.numel() - 1
    try:
        from scipy.stats import chi2
    except ImportError:  # Mean plus five standard deviations of the chi-square law.
        return stat < dof + 5 * math.sqrt(2 * dof)
    return chi2.sf(stat, dof) > 1e-3


@pytest.mark.parametrize("disjoint", [False, True])
@pytest.mark.parametrize("fanout", [[4, 3], [-1, 2], [0, 5]])
def test_neighbor_loader_homogeneous(disjoint, fanout):
    data = random_graph()
    sampler = TorchNeighborSampler(data, fanout, disjoint=disjoint)
    input_nodes = torch.randperm(data.num_nodes)[:30]
    loader = NeighborLoader(
        data, fanout, input_nodes=input_nodes, batch_size=8, neighbor_sampler=sampler
    )
    batches = list(loader)
    assert sum(b.batch_size for b in batches) == 30
    for batch in batches:
        size = batch.batch_size
        assert torch.equal(batch.n_id[:size], input_nodes[batch.input_id])
        if disjoint:
            assert torch.equal(batch.batch[:size], torch.arange(size))
        check_subgraph(batch, data, {HOMO: fanout})


@pytest.mark.parametrize("disjoint", [False, True])
def test_neighbor_loader_heterogeneous(disjoint):
    data = random_hetero_graph()
    fanouts = {
        ("user", "follows", "user"): [3, 2],
        ("user", "rates", "item"): [4, -1],
        ("item", "rated_by", "user"): [2, 0],
    }
    sampler = TorchNeighborSampler(data, fanouts, disjoint=disjoint)
    loader = NeighborLoader(
        data, fanouts, input_nodes="user", batch_size=16, neighbor_sampler=sampler
    )
    for batch in loader:
        size = batch["user"].batch_size
        assert torch.equal(batch["user"].n_id[:size], batch["user"].input_id)
        assert batch["item"].num_sampled_nodes[0] == 0
        check_subgraph(batch, data, fanouts)


def test_heterogeneous_list_fanout_applies_to_every_edge_type():
    data = random_hetero_graph(seed=1)
    sampler = TorchNeighborSampler(data, [2, 2])
    batch = next(iter(NeighborLoader(data, [2, 2], input_nodes="item", neighbor_sampler=sampler)))
    check_subgraph(batch, data, {k: [2, 2] for k in data.edge_types})


@pytest.mark.parametrize("strategy", ["uniform", "last"])
def test_temporal_node_time(strategy):
    data = random_graph(seed=2)
    fanout = [3, 2]
    sampler = TorchNeighborSampler(data, fanout, time_attr="time", temporal_strategy=strategy)
    assert sampler.disjoint  # Temporal sampling implies disjoint subgraphs, as in PyG.
    loader = NeighborLoader(data, fanout, batch_size=16, time_attr="time", neighbor_sampler=sampler)
    for batch in loader:
        seed_time = data.time[batch.n_id[: batch.batch_size]]  # Seeds default to their time.
        assert (data.time[batch.n_id] <= seed_time[batch.batch]).all()
        source_time = {HOMO: data.time[data.edge_index[0]]}
        check_subgraph(batch, data, {HOMO: fanout}, source_time, seed_time)


@pytest.mark.parametrize("strategy", ["uniform", "last"])
def test_temporal_edge_time(strategy):
    data = random_graph(seed=3)
    fanout = [3, 3]
    sampler = TorchNeighborSampler(data, fanout, time_attr="edge_time", temporal_strategy=strategy)
    input_time = torch.randint(0, data.num_edges, (data.num_nodes,))
    loader = NeighborLoader(
        data,
        fanout,
        batch_size=16,
        input_time=input_time,
        time_attr="edge_time",
        neighbor_sampler=sampler,
    )
    for batch in loader:
        edge_time = {HOMO: data.edge_time}
        check_subgraph(batch, data, {HOMO: fanout}, edge_time, batch.seed_time)
        if strategy == "last":  # Edge times are distinct, so "the latest k" is well defined.
            row, col = batch.edge_index
            subgraph_time = batch.seed_time[batch.batch]
            for node in col.unique():
                taken = batch.e_id[col == node]
                eligible = (data.edge_index[1] == batch.n_id[node]) & (
                    data.edge_time <= subgraph_time[node]
                )
                latest = data.edge_time[eligible].sort(descending=True).values
                assert torch.equal(
                    data.edge_time[taken].sort(descending=True).values,
                    latest[: taken.numel()],
                )


def test_temporal_heterogeneous_node_time():
    """Only users have a time: neighbors that are users are filtered, items are not."""
    data = random_hetero_graph(seed=5)
    data["user"].time = torch.randint(0, 10, (data["user"].num_nodes,))
    fanouts = {k: [3, 2] for k in data.edge_types}
    sampler = TorchNeighborSampler(data, fanouts, time_attr="time")
    loader = NeighborLoader(
        data,
        fanouts,
        input_nodes="user",
        batch_size=16,
        time_attr="time",
        neighbor_sampler=sampler,
    )
    # The time each edge is judged by: its source's, or one that always passes for items.
    source_time = {}
    for (src, rel, dst), store in data.edge_items():
        if src == "user":
            source_time[src, rel, dst] = data["user"].time[store.edge_index[0]]
        else:
            source_time[src, rel, dst] = torch.full((store.num_edges,), -1)
    for batch in loader:
        seed_time = data["user"].time[batch["user"].n_id[: batch["user"].batch_size]]
        check_subgraph(batch, data, fanouts, source_time, seed_time)


@pytest.mark.parametrize("disjoint", [False, True])
def test_link_neighbor_loader_with_negative_sampling(disjoint):
    data = random_graph(seed=4)
    fanout = [3, 2]
    label_index = data.edge_index[:, :40]
    sampler = TorchNeighborSampler(data, fanout, disjoint=disjoint)
    loader = LinkNeighborLoader(
        data,
        fanout,
        edge_label_index=label_index,
        neg_sampling_ratio=1.0,
        batch_size=10,
        neighbor_sampler=sampler,
    )
    for batch in loader:
        assert batch.edge_label.tolist() == [1.0] * 10 + [0.0] * 10
        pos = batch.edge_label_index[:, :10]
        assert torch.equal(batch.n_id[pos], label_index[:, batch.input_id])
        assert (batch.edge_label_index < batch.num_sampled_nodes[0]).all()
        check_subgraph(batch, data, {HOMO: fanout}, distinct=not disjoint)


@pytest.mark.parametrize("degree, k", [(20, 5), (6, 3)])
def test_uniformity(degree, k):
    """Every neighbor, and with few neighbors every k-subset, is drawn equally often."""
    # Node 0 has in-neighbors 1..degree; 4,000 disjoint subgraphs all grown from node 0.
    neighbors = torch.arange(1, degree + 1)
    data = Data(
        edge_index=torch.stack([neighbors, torch.zeros_like(neighbors)]),
        x=torch.zeros(degree + 1, 1),
        num_nodes=degree + 1,
    )
    draws = 4000
    sampler = TorchNeighborSampler(data, [k], disjoint=True)
    batch = next(
        iter(
            NeighborLoader(
                data,
                [k],
                input_nodes=torch.zeros(draws, dtype=torch.long),
                batch_size=draws,
                neighbor_sampler=sampler,
            )
        )
    )
    row, col = batch.edge_index
    assert torch.equal(torch.bincount(col), torch.full((draws,), k))
    chosen = batch.n_id[row]
    assert chi_square_ok(torch.bincount(chosen - 1, minlength=degree).double())

    if math.comb(degree, k) <= 50:  # Few enough subsets to count each one.
        subsets = chosen[col.argsort(stable=True)].view(draws, k).sort(dim=1).values
        index = {s: i for i, s in enumerate(itertools.combinations(range(1, degree + 1), k))}
        counts = torch.bincount(
            torch.tensor([index[tuple(s)] for s in subsets.tolist()]), minlength=len(index)
        )
        assert chi_square_ok(counts.double())


def test_seeds_without_neighbors_and_empty_hops():
    data = Data(edge_index=torch.tensor([[1, 2], [0, 0]]), x=torch.randn(4, 1), num_nodes=4)
    sampler = TorchNeighborSampler(data, [5, 5])
    batch = next(
        iter(
            NeighborLoader(
                data,
                [5, 5],
                input_nodes=torch.tensor([3, 0]),
                batch_size=2,
                neighbor_sampler=sampler,
            )
        )
    )
    assert batch.n_id.tolist()[:2] == [3, 0]
    assert sorted(batch.n_id.tolist()[2:]) == [1, 2]
    assert batch.num_sampled_nodes == [2, 2, 0]
    assert batch.num_sampled_edges == [2, 0]


def test_unsupported_options_raise_naming_the_argument():
    data = random_graph()
    for kwargs, named in (({"replace": True}, "replace=True"),
                          ({"subgraph_type": "induced"}, "subgraph_type='induced'"),
                          ({"weight_attr": "time"}, "weight_attr='time'"),
                          ({"directed": False}, "directed=False"),
                          ({"sample_direction": "backward"}, "sample_direction='backward'")):
        with pytest.raises(NotImplementedError, match=re.escape(named)):
            TorchNeighborSampler(data, [2], **kwargs)
    with pytest.raises(ValueError, match="temporal strategy"):
        TorchNeighborSampler(data, [2], time_attr="time", temporal_strategy="first")
    with pytest.raises(ValueError, match="sample_direction='sideways'"):
        TorchNeighborSampler(data, [2], sample_direction="sideways")


def test_every_argument_of_pygs_sampler_is_accepted_or_refused():
    # A new PyG argument must be handled here (supported or refused), not raise TypeError.
    ours = inspect.signature(TorchNeighborSampler.__init__).parameters
    assert list(inspect.signature(NeighborSampler.__init__).parameters) == list(ours)


def _batches(data, seed, **kwargs):
    sampler = TorchNeighborSampler(data, [3, 2], **kwargs)
    torch.manual_seed(seed)
    loader = NeighborLoader(data, [3, 2], batch_size=7, neighbor_sampler=sampler,
                            input_nodes=torch.arange(30), shuffle=True)
    return list(loader)


def _same(a, b):
    for x, y in zip(a, b, strict=True):
        for key in ("n_id", "e_id", "edge_index", "x"):
            assert torch.equal(x[key], y[key]), key
        assert x.num_sampled_nodes == y.num_sampled_nodes


@pytest.mark.parametrize("disjoint", [False, True])
def test_int32_and_int64_edge_index_give_the_same_samples(disjoint):
    data = random_graph()
    narrow = random_graph()
    narrow.edge_index = narrow.edge_index.int()
    wide = _batches(data, 3, disjoint=disjoint)
    _same(wide, _batches(narrow, 3, disjoint=disjoint))
    for batch in wide:
        check_subgraph(batch, data, {HOMO: [3, 2]})


def test_int32_heterogeneous_and_temporal_edge_index():
    data, narrow = random_hetero_graph(), random_hetero_graph()
    for store in narrow.edge_stores:
        store.edge_index = store.edge_index.int()
    for d in (data, narrow):
        for nt, n in (("user", 40), ("item", 50)):
            d[nt].time = torch.arange(n) % 7
    for kwargs in ({}, {"time_attr": "time"}):
        def batches(d, kwargs=kwargs):
            sampler = TorchNeighborSampler(d, [3, 2], **kwargs)
            torch.manual_seed(5)
            return list(NeighborLoader(d, [3, 2], input_nodes="user", batch_size=16,
                                       neighbor_sampler=sampler, **kwargs))
        for x, y in zip(batches(data), batches(narrow), strict=True):
            for nt in x.node_types:
                assert torch.equal(x[nt].n_id, y[nt].n_id)
            for et in x.edge_types:
                assert torch.equal(x[et].edge_index, y[et].edge_index)


def test_pygs_own_defaults_behave_as_the_defaults():
    data = random_graph()
    explicit = dict(subgraph_type="directional", replace=False, disjoint=False,
                    temporal_strategy="uniform", time_attr=None, weight_attr=None,
                    directed=True, sample_direction="forward")
    _same(_batches(data, 1), _batches(data, 1, **explicit))


def test_is_sorted_skips_sorting_and_share_memory_keeps_samples():
    data = random_graph()
    # Sorted by target, sources in descending order within each neighborhood: PyG's own
    # sort would reorder them, is_sorted=True keeps them as given.
    order = torch.argsort(data.edge_index[1] * data.num_nodes - data.edge_index[0])
    by_dst = Data(edge_index=data.edge_index[:, order], x=data.x,
                  edge_attr=data.edge_attr[order], num_nodes=data.num_nodes)
    kept = TorchNeighborSampler(by_dst, [2], is_sorted=True)
    assert torch.equal(kept.row, by_dst.edge_index[0]) and kept.perm is None
    assert not torch.equal(TorchNeighborSampler(by_dst, [2]).row, by_dst.edge_index[0])
    for batch in _batches(by_dst, 2, is_sorted=True):
        check_subgraph(batch, by_dst, {HOMO: [3, 2]})
    _same(_batches(by_dst, 2), _batches(by_dst, 2, share_memory=True))
    shared = TorchNeighborSampler(by_dst, [2], share_memory=True)
    assert shared.colptr.is_shared() and shared.row.is_shared()


def test_bidirectional_subgraph_type_adds_reverse_edges():
    data = random_graph()
    for directional, bidirectional in zip(_batches(data, 4),
                                          _batches(data, 4, subgraph_type="bidirectional"),
                                          strict=True):
        assert torch.equal(directional.n_id, bidirectional.n_id)
        edges = {tuple(e) for e in directional.edge_index.t().tolist()}
        both = {tuple(e) for e in bidirectional.edge_index.t().tolist()}
        assert edges <= both and {(b, a) for a, b in edges} <= both


def test_feature_store_and_graph_store_input_samples_like_data():
    from torch_geometric.testing import MyFeatureStore, MyGraphStore

    data = random_graph()
    features, graph = MyFeatureStore(), MyGraphStore()
    features.put_tensor(data.x, group_name=None, attr_name="x", index=torch.arange(60))
    graph.put_edge_index(data.edge_index, edge_type=None, layout="coo", size=(60, 60))
    remote = _batches((features, graph), 6)
    for x, y in zip(_batches(data, 6), remote, strict=True):
        assert torch.equal(x.n_id, y.n_id) and torch.equal(x.x, y.x)
        assert torch.equal(x.edge_index, y.edge_index)


def test_edge_time_needs_seed_time():
    data = random_graph()
    sampler = TorchNeighborSampler(data, [2], time_attr="edge_time")
    loader = NeighborLoader(data, [2], batch_size=4, neighbor_sampler=sampler)
    with pytest.raises(ValueError, match="time for every seed"):
        next(iter(loader))


@pytest.mark.filterwarnings("ignore:Using 'NeighborSampler' without a 'pyg-lib'")
def test_factory_prefers_compiled_sampler(monkeypatch):
    data = random_graph()
    assert compiled_sampler_available() == (
        torch_geometric.typing.WITH_PYG_LIB or torch_geometric.typing.WITH_TORCH_SPARSE
    )
    for flag in ("WITH_PYG_LIB", "WITH_TORCH_SPARSE"):
        monkeypatch.setattr(torch_geometric.typing, flag, False)
    assert not compiled_sampler_available()
    assert type(make_neighbor_sampler(data, [2])) is TorchNeighborSampler

    # torch-sparse cannot sample disjoint subgraphs; pyg-lib can sample anything.
    monkeypatch.setattr(torch_geometric.typing, "WITH_TORCH_SPARSE", True)
    assert type(make_neighbor_sampler(data, [2])) is NeighborSampler
    assert type(make_neighbor_sampler(data, [2], disjoint=True)) is TorchNeighborSampler
    monkeypatch.setattr(torch_geometric.typing, "WITH_PYG_LIB", True)
    assert type(make_neighbor_sampler(data, [2], time_attr="time")) is NeighborSampler


def test_table_relabelling_equals_sorting_and_leaves_the_table_clean():
    from graphrec.data.sampler import _UNSEEN, _relabel, _relabel_into

    g = torch.Generator().manual_seed(0)
    for num_seen, num_found in ((0, 50), (7, 0), (20, 200), (30, 5)):
        seen = torch.randperm(40, generator=g)[:num_seen]
        found = torch.randint(0, 40, (num_found,), generator=g)  # repeats, seen and unseen
        table = torch.full((40,), _UNSEEN)
        table[seen] = torch.arange(num_seen)
        local, new = _relabel_into(table, num_seen, found)
        want_local, want_new = _relabel(seen, found)
        assert torch.equal(local, want_local) and torch.equal(new, want_new)
        # The table now knows every node of the batch, at its local index.
        everything = torch.cat([seen, new])
        assert torch.equal(table[everything], torch.arange(everything.numel()))
    # Between batches the sampler's tables hold no node: a batch drawn after another equals
    # the same batch from a fresh sampler.
    data = random_hetero_graph()
    used = TorchNeighborSampler(data, [3, 2])
    loader = NeighborLoader(data, [3, 2], input_nodes="user", batch_size=16,
                            neighbor_sampler=used)
    list(loader)
    assert all((t == _UNSEEN).all() for t in used._slot_tables.values())
    seeds = torch.tensor([5, 1, 5, 30])  # a repeated seed keeps its first position
    torch.manual_seed(1)
    a = NeighborLoader(data, [3, 2], input_nodes=("user", seeds), batch_size=4,
                       neighbor_sampler=used)
    batch_a = next(iter(a))
    torch.manual_seed(1)
    b = NeighborLoader(data, [3, 2], input_nodes=("user", seeds), batch_size=4,
                       neighbor_sampler=TorchNeighborSampler(data, [3, 2]))
    batch_b = next(iter(b))
    for t in data.node_types:
        assert torch.equal(batch_a[t].n_id, batch_b[t].n_id)
    for et in data.edge_types:
        assert torch.equal(batch_a[et].edge_index, batch_b[et].edge_index)


def test_a_batch_that_fails_midway_leaves_no_node_in_the_tables(monkeypatch):
    import graphrec.data.sampler as module

    data = random_hetero_graph()
    sampler = TorchNeighborSampler(data, [3, 2])
    real = module._relabel_into

    def fail_after_writing(table, num_seen, found):
        real(table, num_seen, found)  # the table now holds this hop's nodes
        raise RuntimeError("stopped midway")

    monkeypatch.setattr(module, "_relabel_into", fail_after_writing)
    loader = NeighborLoader(data, [3, 2], input_nodes="user", batch_size=16,
                            neighbor_sampler=sampler)
    with pytest.raises(RuntimeError, match="stopped midway"):
        next(iter(loader))
    assert all((t == module._UNSEEN).all() for t in sampler._slot_tables.values())
