"""Mini-batch training (data.loader=neighbor): leakage, rank shares, layer-wise inference."""

import json

import pytest
import torch
from conftest import ENCODERS, make_cfg
from torch_geometric.data import HeteroData

from graphrec.data.datamodule import GraphDataModule
from graphrec.data.minibatch import (
    FullNeighborhoods,
    NeighborBatches,
    full_graph_share,
    sort_by_destination,
    sorted_by_destination,
)
from graphrec.data.schema import reverse_edge_type
from graphrec.sources.synthetic import SyntheticSource
from graphrec.train import train

TASKS = {
    "friend": {"kind": "link", "edge_type": ["user", "friends", "user"]},
    "career": {"kind": "link", "edge_type": ["user", "applied", "job"]},
    "content": {"kind": "link", "edge_type": ["user", "likes", "post"]},
    "sentiment": {"kind": "node", "node_type": "post"},
}
LINKS = ("friend", "career", "content")


@pytest.fixture(scope="module")
def dm():
    dm = GraphDataModule(SyntheticSource(num_users=300, community_size=30), TASKS,
                         num_eval_negatives=20, loader="neighbor",
                         neighbor={"num_neighbors": [10, 5], "batch_size": 128,
                                   "eval_batch_size": 512})
    dm.setup()
    return dm


def _pairs(ei):
    return set(map(tuple, ei.t().tolist()))


def _global_edges(sub, et):
    src, _, dst = et
    ei = sub[et].edge_index
    return _pairs(torch.stack([sub[src].n_id[ei[0]], sub[dst].n_id[ei[1]]]))


def _visible(sub, et):
    """Global (source, target) pairs of ``et`` that the subgraph passes messages over."""
    rev = reverse_edge_type(et)
    seen = _global_edges(sub, et) | {(b, a) for a, b in _global_edges(sub, rev)}
    if et == rev:
        seen |= {(b, a) for a, b in seen}
    return seen


def _first_batches(loader, n):
    out = []
    for i, batch in enumerate(loader):
        out.append(batch[0] if isinstance(batch, tuple) else batch)
        if i + 1 == n:
            break
    return out


def test_train_subgraphs_come_from_the_train_graph_and_hide_their_own_positives(dm):
    train_graph = dm.batches["train"]["graph"]
    batches = _first_batches(dm.train_dataloader(), 3)
    hidden_somewhere = 0
    for batch in batches:
        for name in LINKS:
            sub, et = batch[name], tuple(TASKS[name]["edge_type"])
            split = dm.splits[name]
            # Every sampled edge, of every type, exists in the train message-passing graph.
            for t in sub.edge_types:
                assert _global_edges(sub, t) <= _pairs(train_graph[t].edge_index), (name, t)
            visible = _visible(sub, et)
            for held_out in (split.val, split.test):
                # (``visible`` holds both orientations of a symmetric relation.)
                assert not _pairs(held_out) & visible, name
            label = sub[et].edge_label
            eli = sub[et].edge_label_index
            s, _, d = et
            pos = torch.stack([sub[s].n_id[eli[0]], sub[d].n_id[eli[1]]])[:, label == 1]
            # The batch's positives are exactly its seeds' train pairs ...
            assert _pairs(pos) == _pairs(split.train[:, sub[et].input_id])
            # ... and none of them carries messages in its own subgraph.
            assert not _pairs(pos) & visible, name
            # Other train pairs of the same relation still do (hiding is per batch only).
            hidden_somewhere += len(_pairs(pos) & _pairs(train_graph[et].edge_index))
            assert visible
    assert hidden_somewhere > 0
    # Negatives: about one uniform pair per positive.
    sub = batches[0]["career"]
    assert 0.9 < (sub["user", "applied", "job"].edge_label == 0).sum() / 128 <= 1.0
    # The sentiment batch classifies its seeds, the first nodes of its post store.
    post = batches[0]["sentiment"]["post"]
    assert set(post.n_id[:post.batch_size].tolist()) <= set(dm.splits["sentiment"].train.tolist())


def test_without_hiding_the_positives_would_be_in_their_subgraph(dm):
    """The leakage check above can fail: PyG's loader itself keeps the seed edges."""
    nb = dm.minibatch
    loader = nb.train_loader(dm.batches["train"]["graph"],
                             {"friend": dm._by_task()["friend"]})
    loader = loader.iterables["friend"]
    loader.transform = None
    sub = _first_batches(loader, 1)[0]
    et = ("user", "friends", "user")
    pos = sub[et].edge_label_index[:, sub[et].edge_label == 1]
    pos = _pairs(sub["user"].n_id[pos])
    assert len(pos & _visible(sub, et)) > 0.5 * len(pos)


def test_samplers_share_the_message_passing_graphs_edges(dm):
    # Mini-batch data is kept in CSC order, so each message-passing graph's sampler reads the
    # graph's own edges: no copy of the rows, no permutation.
    for split in ("train", "test"):
        graph = dm.batches[split]["graph"]
        sampler = dm.minibatch.sampler(graph)
        for et in graph.edge_types:
            ei = graph[et].edge_index
            assert (ei[1, 1:] >= ei[1, :-1]).all(), et
            row = sampler.row_dict["__".join(et)]
            assert row.untyped_storage().data_ptr() == ei.untyped_storage().data_ptr(), et
            assert sampler.perm[et] is None


def test_sorted_mini_batch_data_keeps_the_fingerprint_of_its_source(dm):
    # Checkpoints record the data fingerprint; mini-batch setup reorders the edges, which
    # must not make a checkpoint of the same data look like one of other data.
    full = GraphDataModule(SyntheticSource(num_users=300, community_size=30), TASKS,
                           num_eval_negatives=20)
    full.setup()
    et = ("user", "friends", "user")
    assert not torch.equal(full.graph[et].edge_index, dm.graph[et].edge_index)
    assert dm.data_fingerprint == full.data_fingerprint
    assert dm.split_fingerprint == full.split_fingerprint
    # The message-passing graphs hold the same edges, with the same pair ids, in CSC order.
    for split in ("train", "test"):
        a, b = (m.batches[split]["graph"][et] for m in (full, dm))
        assert _pairs(a.edge_index) == _pairs(b.edge_index)
    a, b = (m.batches["train"]["graph"][et] for m in (full, dm))
    tagged = {(*e, p) for e, p in zip(a.edge_index.t().tolist(), a.pair_id.tolist())}
    assert tagged == {(*e, p) for e, p in zip(b.edge_index.t().tolist(), b.pair_id.tolist())}
    # Only training hides pairs: the test graph carries no pair ids.
    assert "pair_id" not in dm.batches["test"]["graph"][et]


def test_sorting_by_destination_moves_every_edge_attribute_along():
    graph = HeteroData()
    graph["user"].num_nodes = 5
    ei = torch.tensor([[0, 1, 2, 3, 4, 0], [4, 0, 2, 0, 1, 2]])
    graph["user", "friends", "user"].edge_index = ei
    graph["user", "friends", "user"].edge_time = torch.arange(6) * 10
    sort_by_destination(graph)
    store = graph["user", "friends", "user"]
    assert store.edge_index[1].tolist() == [0, 0, 1, 2, 2, 4]
    # Stable within a destination, and each edge keeps its own time.
    assert store.edge_index[0].tolist() == [1, 3, 4, 2, 0, 0]
    assert store.edge_time.tolist() == [10, 30, 40, 20, 50, 0]
    # A graph in CSC order gets a sampler without its own copy (the flag it passes).
    assert sorted_by_destination(store.edge_index) and not sorted_by_destination(ei)


def test_layerwise_embedding_equals_the_full_graph_forward(dm):
    torch.manual_seed(0)
    # Bipartite families (SAGE, GAT) compute each chunk's relations into its own nodes only,
    # HGT its whole one-hop subgraph; both must equal the full pass, also in chunks of 13
    # rows: a short last chunk, and chunks without in-edges of some relation (whose SAGE
    # root term still counts in the mean over relations). Chunks of at most 150 in-edges:
    # some users have more (up to 191 here), so single nodes are chunks too (asserted).
    for conv, splits in (("hgt", ["val"]), ("sage", ["val", "test"]), ("gat", ["val"])):
        encoder = ENCODERS[conv](dm.metadata, dm.node_specs, hidden_channels=16,
                                out_channels=8, id_embedding=["user"]).eval()
        for split in splits:
            batch = dm.batches[split]
            with torch.no_grad():
                full = encoder(batch["graph"])
            chunked = (FullNeighborhoods(batch["graph"], dm.minibatch, 13),
                       FullNeighborhoods(batch["graph"], dm.minibatch, 512, 150))
            assert min(chunked[1].sizes("user")) == 1
            # The test split differs by its graph only: its own chunks are enough there.
            for hoods in (batch["neighborhoods"], *(chunked if split == "val" else ())):
                z = encoder.inference(batch["graph"], hoods)
                for nt, value in full.items():
                    torch.testing.assert_close(z[nt], value, atol=1e-5, rtol=1e-4)
    # The test graph adds validation edges, so the two splits' embeddings differ.
    val, test = (encoder.inference(dm.batches[s]["graph"], dm.batches[s]["neighborhoods"])
                 for s in ("val", "test"))
    assert not torch.allclose(val["user"], test["user"])


def _untrimmed(batch):
    """The same subgraph without its per-hop counts, so the encoder runs every layer on it all."""
    batch = batch.clone()
    for store in batch.stores:
        for key in ("num_sampled_nodes", "num_sampled_edges"):
            if key in store:
                del store[key]
    return batch


@pytest.mark.parametrize("conv", ["sage", "gat", "hgt"])
def test_trimmed_layers_give_the_seeds_the_untrimmed_embeddings(dm, conv):
    torch.manual_seed(0)
    encoder = ENCODERS[conv](dm.metadata, dm.node_specs, hidden_channels=16,
                            out_channels=8, id_embedding=["user"]).eval()
    loaders = dm.train_dataloader()
    batch, = _first_batches(loaders, 1)
    for name, sub in batch.items():
        with torch.no_grad():
            trimmed, full = encoder(sub), encoder(_untrimmed(sub))
        for nt, value in trimmed.items():
            seeds = sub[nt].num_sampled_nodes[0]
            # Two hops, two layers: only the seeds come back, and exactly as before.
            assert value.size(0) == seeds
            torch.testing.assert_close(value, full[nt][:seeds], atol=1e-5, rtol=1e-4)
        # The outer hop is most of the subgraph: that is the work trimming saves.
        assert sum(v.size(0) for v in trimmed.values()) < sub.num_nodes / 2, name


def test_hidden_positives_keep_the_per_hop_edge_counts_right(dm):
    batch, = _first_batches(dm.train_dataloader(), 1)
    sub = batch["friend"]
    for et in sub.edge_types:
        assert sum(sub[et].num_sampled_edges) == sub[et].num_edges, et
    # Removing an edge at the first hop moves the hop boundary: a hop-1 edge ends at a seed.
    et = ("user", "friends", "user")
    first = sub[et].num_sampled_edges[0]
    seeds = sub["user"].num_sampled_nodes[0]
    assert (sub[et].edge_index[1, :first] < seeds).all()
    assert (sub[et].edge_index[1, first:] >= seeds).all()


def test_ranks_draw_disjoint_seed_shares_that_cover_every_seed(dm):
    graph = dm.batches["train"]["graph"]
    nb = NeighborBatches(num_neighbors=[2], batch_size=64)
    seen = {name: [] for name in TASKS}
    for rank in range(2):
        loaders = nb.train_loader(graph, dm._by_task(), rank=rank, world_size=2, seed=3).iterables
        for name, loader in loaders.items():
            ids = []
            for sub in loader:
                if name == "sentiment":
                    ids += sub["post"].n_id[:sub["post"].batch_size].tolist()
                else:
                    ids += sub[tuple(TASKS[name]["edge_type"])].input_id.tolist()
            seen[name].append(ids)
    for name, (a, b) in seen.items():
        n = dm.splits[name].train.numel() if name == "sentiment" else \
            dm.splits[name].train.size(1)
        # DistributedSampler pads the shorter share with at most one repeated seed.
        assert len(set(a) & set(b)) <= 1 and len(set(a) | set(b)) == n, name
        assert abs(len(a) - len(b)) == 0, name


def test_full_graph_rank_shares_renumber_pair_ids_consistently(dm):
    batch = dm.batches["train"]
    shares = [full_graph_share(batch, dm._by_task(), r, 2) for r in range(2)]
    for name in LINKS:
        et = tuple(TASKS[name]["edge_type"])
        parts = [_pairs(s["targets"][name]["pos"]) for s in shares]
        assert not parts[0] & parts[1]
        assert parts[0] | parts[1] == _pairs(batch["targets"][name]["pos"])
        for share in shares:
            g, pos = share["graph"][et], share["targets"][name]["pos"]
            tagged = g.pair_id >= 0
            # A tagged edge is the pair its id names in this rank's share.
            ends = g.edge_index[:, tagged]
            named = pos[:, g.pair_id[tagged]]
            same = (ends == named).all(0) | (ends == named.flip(0)).all(0)
            assert same.all()
            assert g.pair_id.max() == pos.size(1) - 1
            # Messages still flow over every train edge, whichever rank supervises it.
            assert g.num_edges == batch["graph"][et].num_edges
    nodes = [set(s["targets"]["sentiment"]["index"].tolist()) for s in shares]
    assert not nodes[0] & nodes[1]
    assert nodes[0] | nodes[1] == set(batch["targets"]["sentiment"]["index"].tolist())
    # The datamodule's own graph keeps its ids.
    assert batch["graph"]["user", "friends", "user"].pair_id.max() == \
        batch["targets"]["friend"]["pos"].size(1) - 1


@pytest.mark.slow
def test_neighbor_loader_training_runs_to_valid_test_metrics(tmp_path):
    results = train(make_cfg(tmp_path, [
        "data.loader=neighbor", "data.neighbor.num_neighbors=[5,3]",
        "data.neighbor.batch_size=256", "trainer.max_epochs=2",
        "trainer.check_val_every_n_epoch=2", "+trainer.limit_train_batches=3"]))
    saved = json.loads((tmp_path / "results.json").read_text())
    for key in ("friend/mrr", "career/mrr", "content/mrr", "sentiment/macro_f1"):
        assert 0.0 < saved["test"][f"test/{key}"] <= 1.0
    assert saved["test"] == results["test"]


def test_sparse_embeddings_update_only_the_rows_a_batch_touched(dm):
    from graphrec.module import GraphRecModule
    from graphrec.optim import DenseSparseAdamW

    torch.manual_seed(0)
    module = GraphRecModule(dm.metadata, dm.node_specs, TASKS,
                            encoder={"hidden_channels": 16, "out_channels": 16,
                                     "id_embedding": ["user"]},
                            sparse_embeddings=True)
    opt = module.configure_optimizers()
    assert isinstance(opt, DenseSparseAdamW)
    batch, = _first_batches(dm.train_dataloader(), 1)
    table = module.encoder.inputs["user"].ids.weight
    before = table.detach().clone()
    module._subgraph_step(batch).backward()
    assert table.grad.is_sparse and not module.encoder.inputs["post"].text.weight.grad.is_sparse
    opt.step()
    moved = (table.detach() != before).any(1)
    touched = torch.zeros(table.size(0), dtype=torch.bool)
    for sub in batch.values():
        touched[sub["user"].n_id] = True
    assert moved.any() and not (moved & ~touched).any()


def test_sparse_embeddings_refuse_nccl_before_training(dm, monkeypatch):
    from graphrec.module import GraphRecModule
    from graphrec.utils.errors import ConfigError

    module = GraphRecModule(dm.metadata, dm.node_specs, TASKS,
                            encoder={"hidden_channels": 8, "out_channels": 8,
                                     "id_embedding": ["user"]},
                            sparse_embeddings=True)
    module.setup("fit")  # no process group: fine
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_backend", lambda *a: "nccl")
    with pytest.raises(ConfigError, match="process_group_backend=gloo"):
        module.setup("fit")
    monkeypatch.setattr(torch.distributed, "get_backend", lambda *a: "gloo")
    module.setup("fit")


def test_inference_chunks_are_bounded_by_in_edges(dm):
    """Chunks are contiguous, cover every node once, hold at most ``chunk`` nodes, and their
    in-edges stay under ``chunk_edges`` but for the last node (a hub alone may exceed it)."""
    graph = dm.batches["test"]["graph"]
    for nt in graph.node_types:
        n = graph[nt].num_nodes
        degree = torch.zeros(n, dtype=torch.long)
        for et in graph.edge_types:
            if et[2] == nt:
                degree += torch.bincount(graph[et].edge_index[1], minlength=n)
        chunks = FullNeighborhoods(graph, dm.minibatch, 50, 40).chunks(nt)
        assert torch.equal(torch.cat(chunks), torch.arange(n))
        for c in chunks:
            assert c.numel() <= 50
            assert degree[c[:-1]].sum() < 40
        # Without the edge bound only the node bound cuts.
        assert [c.numel() for c in FullNeighborhoods(graph, dm.minibatch, 50).chunks(nt)] == \
            [c.numel() for c in torch.arange(n).split(50)]
    # The bound cuts where nodes alone would not: users have many in-edges.
    assert len(FullNeighborhoods(graph, dm.minibatch, 512, 40).chunks("user")) > \
        len(FullNeighborhoods(graph, dm.minibatch, 512).chunks("user"))


def test_test_graph_shares_the_full_graphs_target_edges(dm):
    """The test graph's target relations are views of the full graph's (its edges come
    first there), in CSC order, holding every edge but the test targets."""
    full, test = dm.graph, dm.batches["test"]["graph"]
    for name in LINKS:
        ls = dm.splits[name]
        for et, split in ((ls.edge_type, ls.edge_split),
                          (reverse_edge_type(ls.edge_type), ls.rev_edge_split)):
            if split is None:
                continue
            shown, everything = test[et].edge_index, full[et].edge_index
            assert shown.untyped_storage().data_ptr() == everything.untyped_storage().data_ptr()
            assert sorted_by_destination(shown)
            assert shown.size(1) == int((split <= 1).sum()) < everything.size(1)
            assert torch.equal(shown, everything[:, :shown.size(1)])
    # The train graph holds fewer edges, so it is a copy of its own.
    train = dm.batches["train"]["graph"][("user", "friends", "user")].edge_index
    assert train.untyped_storage().data_ptr() != \
        full[("user", "friends", "user")].edge_index.untyped_storage().data_ptr()


def test_inference_chunks_leave_no_reference_cycles(dm):
    """A finished pass over a node type's chunks frees its loader at once: a cycle would keep
    the loader's input ids and sampler until the cycle collector runs (at a million users,
    the run that did not collect peaked 0.7 GiB above one that did).

    Checked on the objects themselves (held weakly, collector off): whatever else the process
    leaves for the collector meanwhile (other threads' garbage) does not count."""
    import gc
    import weakref

    from torch_geometric.loader import NeighborLoader

    hoods = dm.batches["val"]["neighborhoods"]
    made = []
    init = NeighborLoader.__init__

    def recording_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append((weakref.ref(self), weakref.ref(kwargs["neighbor_sampler"])))

    gc.collect()
    gc.disable()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(NeighborLoader, "__init__", recording_init)
            n = sum(sub["post"].batch_size for sub in hoods.of("post"))
        assert n == dm.graph["post"].num_nodes
        assert len(made) == 1
        loader, sampler = made[0]
        assert loader() is None and sampler() is None, "only the cycle collector frees them"
    finally:
        gc.enable()
