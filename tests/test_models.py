import pytest
import torch
from conftest import ENCODERS

from graphrec.data.datamodule import GraphDataModule
from graphrec.models.decoders import DECODERS, build_decoder
from graphrec.models.encoders import build_encoder
from graphrec.sources.synthetic import SyntheticSource
from graphrec.utils.errors import ConfigError


@pytest.fixture(scope="module")
def dm():
    d = GraphDataModule(SyntheticSource(num_users=200, community_size=20),
                        {"friend": {"kind": "link", "edge_type": ["user", "friends", "user"]}})
    d.setup()
    return d


# gcn is for graphs with one node and edge type only (tests/test_gcn.py); identity for frozen
# vectors only (tests/test_frozen_head.py).
@pytest.mark.parametrize("conv", [c for c in ENCODERS if c not in ("gcn", "identity")])
def test_encoders_embed_every_node_type(dm, conv):
    torch.manual_seed(0)
    enc = ENCODERS[conv](dm.metadata, dm.node_specs, hidden_channels=16,
                        out_channels=8, id_embedding=True).eval()
    graph = dm.batches["train"]["graph"]
    z = enc(graph)
    for nt in graph.node_types:
        assert z[nt].shape == (graph[nt].num_nodes, 8)
        assert torch.isfinite(z[nt]).all()
    # Message passing is what separates GNNs from the baseline: dropping the friendships
    # changes user embeddings for every GNN and for the MLP not at all.
    cut = graph.clone()
    cut["user", "friends", "user"].edge_index = cut["user", "friends", "user"].edge_index[:, :0]
    changed = not torch.allclose(enc(cut)["user"], z["user"])
    assert changed == (conv != "mlp")


@pytest.mark.parametrize("name", DECODERS)
def test_decoders_broadcast_sources_against_negatives(name):
    dec = build_decoder(name, dim=8)
    src, dst = torch.randn(5, 8), torch.randn(5, 7, 8)
    out = dec(src[:, None], dst)
    assert out.shape == (5, 7)
    assert torch.allclose(out[:, 3], dec(src, dst[:, 3]), atol=1e-6)


def test_unknown_encoder_and_decoder_list_choices(dm):
    for target in ("graphrec.models.encoders.GCNNEncoder", "torch.nn.Linear", "os.system"):
        with pytest.raises(ConfigError, match="model/encoder=sage"):
            build_encoder(dm.metadata, dm.node_specs, {"_target_": target})
    with pytest.raises(ValueError, match="hadamard_mlp"):
        build_decoder("cosine", 8)


def test_id_embedding_only_for_listed_node_types(dm):
    enc = ENCODERS["sage"](dm.metadata, dm.node_specs, id_embedding=["user"])
    assert enc.inputs["user"].ids is not None and enc.inputs["job"].ids is None
    with pytest.warns(UserWarning, match="does not have"):
        ENCODERS["sage"](dm.metadata, dm.node_specs, id_embedding=["usr"])
