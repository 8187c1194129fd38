"""The plain GCN encoder: same numbers as PyG's GCNConv, one cached Â per graph."""

import pytest
import torch
from conftest import ENCODERS
from torch_geometric.data import HeteroData

from graphrec.models.gcn import GCN
from graphrec.tasks.link import LinkTask


def _graph(n=30, e=80, seed=0):
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, e), generator=g)
    ei = ei[:, ei[0] != ei[1]]
    return torch.cat([ei, ei.flip(0)], 1).unique(dim=1)


def _pyg_reference(model: GCN, x, edge_index):
    """The same stack with PyG's own GCNConv forward (normalizing on every call)."""
    h = x
    for i, conv in enumerate(model.convs):
        if i:
            h = torch.relu(h)
        h = conv(h, edge_index)
    return h


@pytest.mark.parametrize("density", [1.0, 0.05])
def test_matches_pyg_gcnconv_forward_and_backward(density):
    torch.manual_seed(0)
    n, ei = 30, _graph()
    x = torch.rand(n, 12) * (torch.rand(n, 12) < density)  # 0.05: takes the sparse path
    model = GCN(n, 12, 8, 4)
    out = model(x, ei, n)
    ref = _pyg_reference(model, x, ei)
    torch.testing.assert_close(out, ref)
    grads = torch.autograd.grad(out.square().sum(), list(model.parameters()))
    ref_grads = torch.autograd.grad(ref.square().sum(), list(model.parameters()))
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b)


def test_featureless_is_identity_features():
    torch.manual_seed(0)
    n, ei = 30, _graph()
    model = GCN(n, 0, 8, 4)
    torch.testing.assert_close(model(None, ei, n), _pyg_reference(model, torch.eye(n), ei))
    # A sampled subgraph (global ids n_id) gets the rows of I that belong to its nodes.
    n_id = torch.tensor([3, 7, 11, 19])
    sub = torch.tensor([[0, 1, 2], [1, 2, 3]])
    sub = torch.cat([sub, sub.flip(0)], 1)
    torch.testing.assert_close(model(None, sub, 4, n_id),
                               _pyg_reference(model, torch.eye(n)[n_id], sub))


def test_normalization_is_cached_per_graph_never_shared_between_graphs():
    torch.manual_seed(0)
    n = 30
    train_ei, test_ei = _graph(seed=0), _graph(e=120, seed=1)
    x = torch.rand(n, 12)
    model = GCN(n, 12, 8, 4)
    train_out = model(x, train_ei, n)
    # The test graph must get its own Â, not the train graph's cached one.
    torch.testing.assert_close(model(x, test_ei, n), _pyg_reference(model, x, test_ei))
    assert not torch.allclose(model(x, test_ei, n), train_out)
    torch.testing.assert_close(model(x, train_ei, n), train_out)
    assert len(model.adjacency.entries) == 2
    # A per-step copy of a graph (new tensor) gets its own entry, dropped with the tensor.
    step_ei = train_ei[:, 10:].clone()
    model(x, step_ei, n)
    assert len(model.adjacency.entries) == 3
    del step_ei
    assert len(model.adjacency.entries) == 2


def test_encoder_gcn_needs_one_node_and_edge_type():
    specs = {"user": {"num_nodes": 5}, "post": {"num_nodes": 4}}
    meta = (["user", "post"], [("user", "writes", "post"), ("post", "rev_writes", "user")])
    with pytest.raises(ValueError, match="one node type and one edge type"):
        ENCODERS["gcn"](meta, specs)
    data = HeteroData()
    data["paper"].num_nodes = 30
    data["paper", "cites", "paper"].edge_index = _graph()
    enc = ENCODERS["gcn"]((["paper"], [("paper", "cites", "paper")]),
                        {"paper": {"num_nodes": 30}}, hidden_channels=8, out_channels=4)
    assert enc(data)["paper"].shape == (30, 4)


def test_self_loops_add_each_node_as_its_own_positive():
    # Embeddings whose only large scores are self pairs: with self_loops those count as
    # positives, so the loss must be lower than without.
    z = {"paper": 5 * torch.eye(200)}
    target = {"pos": torch.tensor([[0, 1], [2, 3]])}
    et = ("paper", "cites", "paper")
    losses = []
    for self_loops in (False, True):
        torch.manual_seed(0)
        losses.append(LinkTask("link", et, 200, self_loops=self_loops).loss(z, target))
    # Without: every score is 0, loss log 2. With: 200 confident positives pull it down.
    assert losses[0] == pytest.approx(0.6931, abs=1e-4)
    assert losses[1] < 0.5
    with pytest.raises(ValueError, match="within one node type"):
        LinkTask("x", ("user", "applies", "job"), 200, self_loops=True)


def test_gcn_trains_and_evaluates_under_the_neighbor_loader():
    """Under data.loader=neighbor a GCN model once crashed at evaluation (no layer-wise path)."""
    from graphrec.data.datamodule import GraphDataModule
    from graphrec.module import GraphRecModule

    def source():
        data = HeteroData()
        data["paper"].num_nodes = 60
        data["paper"].x = torch.randn(60, 5, generator=torch.Generator().manual_seed(0))
        data["paper", "cites", "paper"].edge_index = _graph(60, 300)
        return data

    tasks = {"link": {"kind": "link", "edge_type": ["paper", "cites", "paper"],
                      "symmetric": True}}
    dm = GraphDataModule(source, tasks, loader="neighbor",
                         neighbor={"num_neighbors": [5, 5], "batch_size": 16,
                                   "eval_batch_size": 7})
    dm.setup()
    module = GraphRecModule(dm.metadata, dm.node_specs, tasks,
                            {"_target_": "graphrec.models.encoders.GCNEncoder",
                             "hidden_channels": 8, "out_channels": 4})
    batch = next(iter(dm.train_dataloader()))[0]["link"]
    module.tasks["link"].subgraph_loss(module.encoder(batch), batch).backward()
    assert module.encoder.gcn.convs[0].lin.weight.grad is not None
    val = dm.batches["val"]
    z = module.encoder.inference(val["graph"], val["neighborhoods"])
    torch.testing.assert_close(z["paper"], module.encoder(val["graph"])["paper"])
    metrics = module.tasks["link"].evaluate(z, val["targets"]["link"], val["graph"])
    assert metrics["mrr"] > 0


def test_input_and_output_dropout_act_in_training_only():
    torch.manual_seed(0)
    n, ei = 30, _graph()
    x = torch.rand(n, 12) * (torch.rand(n, 12) < 0.05)  # sparse: the eval path stays sparse
    plain = GCN(n, 12, 8, 4)
    model = GCN(n, 12, 8, 4, input_dropout=0.5, output_dropout=0.5)
    model.load_state_dict(plain.state_dict())
    model.eval()
    torch.testing.assert_close(model(x, ei, n), plain(x, ei, n))
    model.train()
    torch.manual_seed(1)
    out = model(x, ei, n)
    # Output dropout zeroes about half the entries and scales the rest by 2.
    zeroed = (out == 0).float().mean().item()
    assert 0.35 < zeroed < 0.65
    # Input dropout alone: the same as feeding the surviving features, scaled by 2, to the
    # plain model (same random draw).
    only_in = GCN(n, 12, 8, 4, input_dropout=0.5).train()
    only_in.load_state_dict(plain.state_dict())
    torch.manual_seed(2)
    got = only_in(x, ei, n)
    torch.manual_seed(2)
    kept = torch.nn.functional.dropout(x, 0.5)
    torch.testing.assert_close(got, plain(kept, ei, n))
    assert not torch.allclose(got, plain(x, ei, n))


def test_propagation_dropout_drops_the_projection_before_it_is_propagated():
    """One layer, ``Â drop(X W) + b``: the same random draw applied by hand to ``X W`` and
    propagated with PyG's normalisation gives the same output; eval mode ignores it."""
    from torch_geometric.utils import to_dense_adj

    torch.manual_seed(0)
    n, ei = 30, _graph()
    x = torch.rand(n, 12)
    plain = GCN(n, 12, 8, 8, num_layers=1)
    model = GCN(n, 12, 8, 8, num_layers=1, propagation_dropout=0.5)
    model.load_state_dict(plain.state_dict())
    torch.testing.assert_close(model.eval()(x, ei, n), plain(x, ei, n))
    model.train()
    torch.manual_seed(3)
    got = model(x, ei, n)
    conv = plain.convs[0]
    torch.manual_seed(3)
    dropped = torch.nn.functional.dropout(x @ conv.lin.weight.t(), 0.5)
    a = to_dense_adj(ei, max_num_nodes=n)[0] + torch.eye(n)
    d = a.sum(1).rsqrt()
    # Rows are targets: out[i] = sum_j Â[i, j] h[j] (the graph is undirected here).
    ref = (d[:, None] * a * d[None]) @ dropped + conv.bias
    torch.testing.assert_close(got, ref)
    # Not the output dropout: fewer exact zeros (a zeroed unit is refilled by neighbours).
    assert (got == 0).float().mean() < 0.2
