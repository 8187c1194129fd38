"""The NCN decoder: dense-reference common-neighbour sums, leakage, broadcasting, configs."""

import pytest
import torch
from conftest import make_cfg
from hydra import compose, initialize_config_dir

from graphrec.data.datamodule import GraphDataModule
from graphrec.models.decoders import build_decoder
from graphrec.models.heuristics import Adjacency
from graphrec.models.ncn import NeuralCommonNeighbors, common_neighbour_sum, neighbour_weight
from graphrec.module import GraphRecModule
from graphrec.runtime import CONFIG_DIR
from graphrec.sources.synthetic import SyntheticSource
from graphrec.train import train
from graphrec.utils.errors import ConfigError

FRIEND = ("user", "friends", "user")
NCN = {"_target_": "graphrec.models.ncn.NeuralCommonNeighbors", "hidden": 16}


def _random_graph(n=40, p=0.15, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = (torch.rand(n, n, generator=g) < p).triu(1)
    # A hub joined to almost everyone: degree weights then span a wide range.
    a[0, 1:n - 2] = True
    a = a | a.T
    return a.float(), a.nonzero().T


def test_common_neighbour_sum_equals_dense_reference():
    a, ei = _random_graph()
    n = a.size(0)
    adj = Adjacency.from_edge_index(ei, n)
    x = torch.randn(n, 5, dtype=torch.float64) * 1e3  # large magnitudes
    u, v = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    pairs = torch.stack([u.reshape(-1), v.reshape(-1)])  # every pair, self-pairs included
    deg = a.sum(1)
    weights = {"none": torch.ones(n), "ra": torch.where(deg > 0, 1 / deg.clamp(min=1), 0.0),
               "aa": torch.where(deg > 1, 1 / deg.clamp(min=2).log(), 0.0)}
    shared = a[pairs[0]] * a[pairs[1]]  # [P, N] dense indicator of common neighbours
    for kind, w in weights.items():
        assert torch.allclose(neighbour_weight(adj, kind), w)
        out, feats = common_neighbour_sum(adj, x, pairs, w.double(), budget=97)
        ref = (shared.double() * w.double()) @ x
        assert torch.allclose(out, ref, rtol=1e-9, atol=1e-6)
    for col, kind in enumerate(("none", "aa", "ra")):
        assert torch.allclose(feats[:, col].float(), shared @ weights[kind], atol=1e-4)


@pytest.fixture(scope="module")
def dm():
    d = GraphDataModule(SyntheticSource(num_users=200, community_size=20),
                        {"friend": {"kind": "link", "edge_type": list(FRIEND)}})
    d.setup()
    return d


def _module(dm, decoder=NCN, **task):
    return GraphRecModule(dm.metadata, dm.node_specs,
                          {"friend": {"kind": "link", "edge_type": list(FRIEND), **task}},
                          {"hidden_channels": 16, "out_channels": 16,
                           "id_embedding": ["user"]},
                          decoder=decoder, supervision_ratio=0.3)


def test_decoder_broadcasts_sources_against_negatives(dm):
    torch.manual_seed(0)
    module = _module(dm).eval()
    graph = dm.batches["val"]["graph"]
    task = module.tasks["friend"]
    assert isinstance(task.decoder, NeuralCommonNeighbors)
    z = module(graph)
    src, dst = torch.randint(0, 200, (6,)), torch.randint(0, 200, (6, 4))
    out = task.score(z, src[:, None], dst, graph)
    assert out.shape == (6, 4)
    for k in range(4):
        assert torch.allclose(out[:, k], task.score(z, src, dst[:, k], graph), atol=1e-6)
    # Common neighbours change the score: the decoder really reads the graph.
    cut = graph.clone()
    cut[FRIEND].edge_index = cut[FRIEND].edge_index[:, ::2]
    assert not torch.allclose(out, task.score(z, src[:, None], dst, cut))


def _pairs(ei):
    return set(map(tuple, ei.T.tolist()))


@pytest.mark.parametrize("decoder", [NCN, {**NCN, "heuristics": "log", "completion": "jaccard"}],
                         ids=["ncn", "completion"])
def test_decoder_never_sees_the_target_edge(dm, decoder):
    """Every graph the decoder reads lacks the pairs it scores as positives (both directions).

    With completion, the completion table is built from that same graph (checked too)."""
    torch.manual_seed(0)
    module = _module(dm, decoder)
    task = module.tasks["friend"]
    seen = []
    original = task.decoder.forward

    def spy(z, src, dst, graph):
        seen.append(_pairs(graph[FRIEND].edge_index))
        return original(z, src, dst, graph)

    task.decoder.forward = spy
    # Record which pairs supervise the step: the loss is what scores them.
    supervised = []
    loss = task.loss
    task.loss = lambda z, target, graph=None: (supervised.append(_pairs(target["pos"])),
                                                loss(z, target, graph))[1]
    module.training_step(dm.batches["train"], 0)
    assert seen and supervised and supervised[0]
    if task.decoder.completion != "none":
        adj = task.decoder._table[0]  # the adjacency the step's completion table came from
        table_pairs = set(zip((adj.keys // adj.num_nodes).tolist(),
                              (adj.keys % adj.num_nodes).tolist()))
        assert table_pairs == seen[-1] | {(b, a) for a, b in seen[-1]}
    for visible in seen:
        assert not supervised[0] & visible
        assert not {(b, a) for a, b in supervised[0]} & visible
    for split in ("val", "test"):
        seen.clear()
        batch = dm.batches[split]
        with torch.no_grad():
            z = module(batch["graph"])
            task.evaluate(z, batch["targets"]["friend"], batch["graph"])
        held_out = _pairs(batch["targets"]["friend"]["pos"])
        assert seen and all(not (held_out | {(b, a) for a, b in held_out}) & v for v in seen)


def test_cross_type_path_counts_friends_linked_to_the_target():
    """Career pairs (user, job): w = friends of the user who applied to the job (dense ref)."""
    from torch_geometric.data import HeteroData

    g = torch.Generator().manual_seed(0)
    n_u, n_j = 30, 12
    f = (torch.rand(n_u, n_u, generator=g) < 0.3).triu(1)
    f = (f | f.T).float()
    applied = (torch.rand(n_u, n_j, generator=g) < 0.3).float()
    graph = HeteroData()
    graph["user"].num_nodes, graph["job"].num_nodes = n_u, n_j
    graph["user", "friends", "user"].edge_index = f.nonzero().T
    graph["user", "applied", "job"].edge_index = applied.nonzero().T
    graph["job", "rev_applied", "user"].edge_index = applied.T.nonzero().T
    dec = build_decoder(NCN, 4, edge_type=("user", "applied", "job"))
    adj, offset = dec.adjacency(graph)
    assert dec.path == [FRIEND, ("job", "rev_applied", "user")] and offset == n_u
    x = torch.randn(n_u, 4, dtype=torch.float64)
    u, j = torch.meshgrid(torch.arange(n_u), torch.arange(n_j), indexing="ij")
    pairs = torch.stack([u.reshape(-1), j.reshape(-1) + offset])
    out, feats = common_neighbour_sum(adj, x, pairs)
    shared = f[u.reshape(-1)] * applied.T[j.reshape(-1)]  # [P, n_u]: friend of u, applied to j
    assert torch.allclose(out, shared.double() @ x)
    assert torch.allclose(feats[:, 0], shared.sum(1).double())
    z = {"user": torch.randn(n_u, 4), "job": torch.randn(n_j, 4)}
    assert dec(z, u[:, :1], j, graph).shape == (n_u, n_j)


def test_ncn_rejects_a_bad_path_and_a_missing_graph():
    with pytest.raises(ConfigError, match="cn_path"):
        build_decoder({**NCN, "cn_path": [["job", "rev_applied", "user"]]}, 8,
                      edge_type=("user", "applied", "job"))
    dec = build_decoder(NCN, 8, edge_type=FRIEND)
    with pytest.raises(ConfigError, match="data.loader=full"):
        dec({"user": torch.zeros(3, 8)}, torch.tensor([0]), torch.tensor([1]), None)


def test_ncn_config_trains_end_to_end_on_the_tiny_graph(tmp_path):
    # The default main job: every link task (career and content through friends), BPR.
    cfg = make_cfg(tmp_path, ["model/decoder=ncn", "task.friend.loss=bpr",
                              "task.friend.negatives=two_hop"])
    results = train(cfg)
    for task in ("friend", "career", "content"):
        assert 0.0 < results["test"][f"test/{task}/mrr"] <= 1.0
    saved = torch.load(results["best_ckpt"], weights_only=False)
    # The checkpoint carries the decoder spec as plain values, so it rebuilds alone.
    assert saved["hyper_parameters"]["decoder"]["_target_"].endswith("NeuralCommonNeighbors")


def test_ncn_without_target_link_removal_is_refused(dm):
    with pytest.raises(ConfigError, match="supervision_ratio"):
        GraphRecModule(dm.metadata, dm.node_specs,
                       {"friend": {"kind": "link", "edge_type": list(FRIEND)}},
                       {}, decoder=NCN, supervision_ratio=None)


@pytest.mark.parametrize("recipe", ["ncn_cora", "ncn_citeseer", "ncn_pubmed"])
def test_ncn_recipes_take_the_dot_decoder_whole(recipe):
    # The recipes' "GAE row" swaps the decoder group: none of NCN's options may stay behind
    # (the dot decoder takes none and would refuse them).
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        ncn = compose("train", overrides=[f"experiment={recipe}"])
        dot = compose("train", overrides=[f"experiment={recipe}", "model/decoder=dot"])
    assert ncn.model.decoder.hidden == 256 and ncn.model.decoder.cn_weight == "none"
    assert dict(dot.model.decoder) == {"_target_": "graphrec.models.decoders.DotProduct"}
    build_decoder(dict(dot.model.decoder), dim=16)


def test_edge_dropout_counts_common_neighbours_on_a_thinned_graph_in_training_only():
    from graphrec.models.ncn import drop_entries

    a, ei = _random_graph(n=60, p=0.3)
    n = a.size(0)
    adj = Adjacency.from_edge_index(ei, n)
    torch.manual_seed(0)
    thin = drop_entries(adj, 0.4)
    kept = torch.zeros(n, n)
    kept[thin.row, thin.col] = 1
    assert bool((kept <= a).all())  # only real entries, each once
    assert len(thin.col) == int(kept.sum())
    assert 0.5 < len(thin.col) / len(adj.col) < 0.7
    assert torch.equal(thin.out_deg, kept.sum(1).long())
    assert torch.equal(thin.in_deg, kept.sum(0).long())
    # The intersection reads the thinned graph as it would a fresh one (dense reference).
    x = torch.randn(n, 3, dtype=torch.float64)
    u, v = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    pairs = torch.stack([u.reshape(-1), v.reshape(-1)])
    out, _ = common_neighbour_sum(thin, x, pairs, budget=101)
    ref = (kept[pairs[0]] * kept[pairs[1]]).double() @ x
    assert torch.allclose(out, ref)
    # The decoder thins only in training: evaluation scores are deterministic.
    from torch_geometric.data import HeteroData

    graph = HeteroData()
    graph["user"].num_nodes = n
    graph[FRIEND].edge_index = ei
    dec = build_decoder({**NCN, "edge_dropout": 0.4}, 4, edge_type=FRIEND)
    z = {"user": torch.randn(n, 4)}
    src, dst = pairs[0], pairs[1]
    dec.eval()
    assert torch.equal(dec(z, src, dst, graph), dec(z, src, dst, graph))
    dec.train()
    assert not torch.equal(dec(z, src, dst, graph), dec(z, src, dst, graph))
    with pytest.raises(ConfigError, match="edge_dropout"):
        build_decoder({**NCN, "edge_dropout": 1.0}, 4, edge_type=FRIEND)


def test_log_heuristics_feed_log_aa_and_log_ra():
    from torch_geometric.data import HeteroData

    from graphrec.models.ncn import LOG_EPS

    a, ei = _random_graph()
    n = a.size(0)
    graph = HeteroData()
    graph["user"].num_nodes = n
    graph[FRIEND].edge_index = ei
    seen = {}
    dec = build_decoder({**NCN, "heuristics": "log"}, 4, edge_type=FRIEND).eval()
    dec.mlp.register_forward_hook(lambda m, inp, out: seen.update(x=inp[0]))
    u, v = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    dec({"user": torch.randn(n, 4)}, u.reshape(-1), v.reshape(-1), graph)
    deg = a.sum(1)
    shared = a[u.reshape(-1)] * a[v.reshape(-1)]
    aa = shared @ torch.where(deg > 1, 1 / deg.clamp(min=2).log(), 0.0)
    ra = shared @ torch.where(deg > 0, 1 / deg.clamp(min=1), 0.0)
    h = seen["x"][:, -5:]
    assert torch.allclose(h[:, 0], shared.sum(1).log1p(), atol=1e-5)
    assert torch.allclose(h[:, 1], (aa + LOG_EPS).log(), atol=1e-4)
    assert torch.allclose(h[:, 2], (ra + LOG_EPS).log(), atol=1e-4)
    assert torch.allclose(h[:, 4], deg[v.reshape(-1)].log1p(), atol=1e-5)
    with pytest.raises(ConfigError, match="heuristics"):
        build_decoder({**NCN, "heuristics": "sqrt"}, 4, edge_type=FRIEND)


def test_layer_norm_off_keeps_the_layer_indices_of_earlier_checkpoints():
    dec = build_decoder({**NCN, "num_layers": 3}, 4, edge_type=FRIEND)
    assert [k for k in dec.state_dict() if k.startswith("mlp.")] == [
        "mlp.0.weight", "mlp.0.bias", "mlp.3.weight", "mlp.3.bias", "mlp.6.weight", "mlp.6.bias"]
    normed = build_decoder({**NCN, "num_layers": 3, "layer_norm": True}, 4, edge_type=FRIEND)
    assert sum(isinstance(m, torch.nn.LayerNorm) for m in normed.mlp) == 2


def test_skip_adds_a_linear_function_of_the_heuristic_inputs():
    """With the MLP's output layer zeroed, the score is the skip path's linear function of
    the dense-reference heuristics (log CN, log AA, log RA, both log-degrees)."""
    from torch_geometric.data import HeteroData

    from graphrec.models.ncn import LOG_EPS

    a, ei = _random_graph()
    n = a.size(0)
    graph = HeteroData()
    graph["user"].num_nodes = n
    graph[FRIEND].edge_index = ei
    dec = build_decoder({**NCN, "heuristics": "log", "skip": True}, 4,
                        edge_type=FRIEND).eval()
    with torch.no_grad():
        dec.mlp[-1].weight.zero_()
        dec.mlp[-1].bias.zero_()
    w = torch.tensor([0.5, -1.0, 2.0, 0.25, -0.2])
    dec.skip.weight.data.copy_(w[None])
    u, v = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    u, v = u.reshape(-1), v.reshape(-1)
    out = dec({"user": torch.randn(n, 4)}, u, v, graph)
    deg = a.sum(1)
    shared = a[u] * a[v]
    aa = shared @ torch.where(deg > 1, 1 / deg.clamp(min=2).log(), 0.0)
    ra = shared @ torch.where(deg > 0, 1 / deg.clamp(min=1), 0.0)
    h = torch.stack([shared.sum(1).log1p(), (aa + LOG_EPS).log(), (ra + LOG_EPS).log(),
                     deg[u].log1p(), deg[v].log1p()], 1)
    assert torch.allclose(out, h @ w, atol=1e-4)
    # Off by default, and with no state of its own: earlier checkpoints load as they were.
    assert not any(k.startswith("skip") for k in build_decoder(NCN, 4, edge_type=FRIEND)
                   .state_dict())
    with pytest.raises(ConfigError, match="heuristics"):
        build_decoder({**NCN, "heuristics": False, "skip": True}, 4, edge_type=FRIEND)


@pytest.mark.parametrize("heuristics", [False, "log"])
def test_branches_combine_scores_as_the_reference_predictor(heuristics):
    """``combine=branches``: ``mlp(pair(z_u * z_v) + beta * cn(sum_w (z_w + f(z_w))) + h)``,
    checked against a dense common-neighbour matrix on a graph with a hub."""
    from torch_geometric.data import HeteroData

    a, ei = _random_graph()
    n = a.size(0)
    graph = HeteroData()
    graph["user"].num_nodes = n
    graph[FRIEND].edge_index = ei
    dec = build_decoder({**NCN, "combine": "branches", "cn_weight": "none", "num_layers": 3,
                         "layer_norm": True, "heuristics": heuristics}, 8,
                        edge_type=FRIEND).eval()
    with torch.no_grad():
        dec.beta.fill_(-1.7)  # a learned scale: not 1 after training
    z = torch.randn(n, 8)
    u, v = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    u, v = u.reshape(-1), v.reshape(-1)
    with torch.no_grad():
        out = dec({"user": z}, u, v, graph)
        shared = a[u] * a[v]
        hidden = dec.pair_branch(z[u] * z[v]) - 1.7 * dec.cn_branch(shared @ (z + dec.cn_node(z)))
        if heuristics:
            from graphrec.models.ncn import LOG_EPS
            deg = a.sum(1)
            aa = shared @ torch.where(deg > 1, 1 / deg.clamp(min=2).log(), 0.0)
            ra = shared @ torch.where(deg > 0, 1 / deg.clamp(min=1), 0.0)
            h = torch.stack([shared.sum(1).log1p(), (aa + LOG_EPS).log(), (ra + LOG_EPS).log(),
                             deg[u].log1p(), deg[v].log1p()], 1)
            hidden = hidden + dec.heur_branch(h)
        ref = dec.mlp(hidden).view(-1)
    assert torch.allclose(out, ref, atol=1e-5)
    # The common neighbours' part is not the concat decoder's: no cn_lin, 3 scoring layers.
    assert not hasattr(dec, "cn_lin")
    assert sum(isinstance(m, torch.nn.Linear) for m in dec.mlp) == 3
    with pytest.raises(ConfigError, match="combine"):
        build_decoder({**NCN, "combine": "sum"}, 4, edge_type=FRIEND)
