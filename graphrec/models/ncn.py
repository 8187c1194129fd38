"""Neural Common Neighbour decoder (NCN; Wang, Yang & Zhang, ICLR 2024).

A pair ``(u, v)`` is scored from the product of its two embeddings and the sum of the
embeddings of its common neighbours in the split's message-passing graph, so the decoder sees
the pair's shared neighbourhood, which node-embedding decoders (dot, Hadamard MLP) cannot
represent and which is what neighbourhood heuristics win on.

Written here rather than taken from the reference code (GraphPKU/NeuralCommonNeighbor)
because that needs torch-sparse; the common neighbours come from the same sorted-CSR
intersection as the heuristics (:func:`graphrec.models.heuristics.shared_neighbor_entries`),
so memory is bounded per group of pairs and no ``N x N`` matrix is built.

Leakage: the decoder only ever sees the graph it is given; the LightningModule gives it the
step graph with that step's supervision pairs removed (training) or the split's
message-passing graph (val/test), so the target edge is never among the edges whose common
neighbours are counted (the paper's "target link removal").
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from graphrec.data.schema import as_edge_type, reverse_edge_type
from graphrec.models.completion import FIRST_STAGES, CompletionTable
from graphrec.models.heuristics import Adjacency, shared_neighbor_entries
from graphrec.utils.errors import ConfigError

CN_WEIGHTS = ("none", "aa", "ra")
COMBINES = ("concat", "branches")
NUM_HEURISTICS = 5  # log(1 + CN), AA, RA, log(1 + d_u), log(1 + d_v)
# Below any pair's positive RA up to degree 1,000 (RA >= 1/d_max): no common neighbour maps
# to log(1e-3) = -6.9, apart from every pair that has one.
LOG_EPS = 1e-3


def neighbour_weight(adj: Adjacency, kind: str) -> Tensor:
    """Weight ``[N]`` of each node as a common neighbour: 1, ``1/log d`` (AA) or ``1/d`` (RA)."""
    deg = adj.in_deg.float()
    if kind == "none":
        return torch.ones_like(deg)
    if kind == "aa":
        return torch.where(deg > 1, 1.0 / deg.clamp(min=2).log(), 0.0)
    if kind == "ra":
        return torch.where(deg > 0, 1.0 / deg.clamp(min=1), 0.0)
    raise ConfigError(f"cn_weight={kind!r}; choose one of {CN_WEIGHTS}")


def common_neighbour_sum(adj: Adjacency, x: Tensor, pairs: Tensor, weight: Tensor | None = None,
                         budget: int = 1 << 22) -> tuple[Tensor, Tensor]:
    """``sum_{w in Γ(u) ∩ Γ(v)} weight[w] * x[w]`` per pair, and the three heuristics.

    Args:
        adj: the graph the neighbourhoods are read from.
        x: node embeddings ``[N_w, D]`` of the neighbour node type.
        pairs: ``[2, P]`` (u, v) ids.
        weight: ``[N_w]`` per-neighbour weight (None: 1).
        budget: candidate neighbours expanded at once (bounds memory).

    Returns:
        ``([P, D] weighted embedding sums, [P, 3] (CN count, Adamic-Adar, resource allocation))``.
    """
    rows, cols = [], []
    for part, pair_id, w in shared_neighbor_entries(adj, pairs, budget):
        rows.append(pair_id + part.start)
        cols.append(w)
    p = pairs.size(1)
    row = torch.cat(rows) if rows else pairs.new_zeros(0)
    col = torch.cat(cols) if cols else pairs.new_zeros(0)
    heur = torch.stack([neighbour_weight(adj, k) for k in CN_WEIGHTS], 1).to(x.dtype)
    feats = x.new_zeros(p, 3).index_add_(0, row, heur[col])
    values = x.new_ones(len(col)) if weight is None else weight[col].to(x.dtype)
    # One sparse [P, N_w] product: about 5x faster forward + backward on CPU than gathering
    # x[w] per entry and index-adding it (measured at 1.5M entries, 64 channels).
    op = torch.sparse_coo_tensor(torch.stack([row, col]), values, (p, x.size(0)),
                                 check_invariants=False)
    return torch.sparse.mm(op, x), feats


def drop_entries(adj: Adjacency, p: float) -> Adjacency:
    """``adj`` with each entry (one direction of an edge) kept with probability ``1 - p``.

    The NCN paper's predictor edge dropout (``--preedp``): during training the common
    neighbours are counted on a thinned graph, so the MLP cannot lean on any single shared
    neighbour. Entries stay sorted, so the intersection code reads the result as is.
    """
    keep = torch.rand(len(adj.keys), device=adj.keys.device) >= p
    return Adjacency.from_keys(adj.keys[keep], adj.num_nodes)


def default_path(edge_type: tuple, edge_types) -> list[tuple]:
    """Where the common neighbours of a task's pairs are found when no ``cn_path`` is given.

    Within one node type (``friend``): the task's own relation, on both sides. Across types
    (``(user, applied, job)``): ``w`` is a source-type node linked to the source by the first
    relation within that type (friends) and to the target by the task's reverse relation
    (applied to the job): "friends of u who applied to j".
    """
    s, _, t = edge_type
    if s == t:
        return [edge_type, edge_type]
    same = [et for et in edge_types if et[0] == s and et[2] == s]
    rev = reverse_edge_type(edge_type)
    if not same or rev not in edge_types:
        raise ConfigError(
            f"the ncn decoder finds no default common-neighbour path for {edge_type}: it needs "
            f"a ({s}, *, {s}) relation and {rev} in the graph; set model.decoder.cn_path, e.g. "
            f"[[{s}, <relation>, <type>], [{t}, <relation>, <type>]]")
    return [sorted(same)[0], rev]


class NeuralCommonNeighbors(nn.Module):
    """``MLP([z_u * z_v, W (sum_w a_w z_w), h(u, v)])`` over common neighbours ``w``.

    Args:
        dim: embedding width of the encoder.
        edge_type: the task's relation ``(s, r, t)``.
        hidden: width of the pair MLP.
        num_layers: layers of the pair MLP (>= 1).
        dropout: dropout inside the MLP.
        cn_weight: ``a_w``: ``none`` (the paper's plain sum), ``aa`` (``1/log d_w``) or
            ``ra`` (``1/d_w``): on ego-Facebook degree-aware weights mattered most.
        heuristics: also feed ``log(1 + CN)``, Adamic-Adar and resource allocation of the pair
            (computed on the same entries, so nearly free) and both ends' ``log(1 + degree)``
            into the MLP. The degrees matter for ranking: on ego-Facebook's validation split
            ``RA / d_v^0.2`` alone ranks better than RA (MRR 0.850 against 0.845).
            ``"log"``: the same with ``log(LOG_EPS + AA)`` and ``log(LOG_EPS + RA)``, so that
            such a power law is linear in the inputs, and Adamic-Adar's hundreds on
            high-overlap pairs do not dwarf the other inputs.
        cn_path: the two relations whose neighbourhoods are intersected,
            ``[[s, r1, w], [t, r2, w]]``: ``w`` nodes linked to the source by ``r1`` and to the
            target by ``r2`` (one relation ``[[s, r, w]]`` serves both sides when ``s == t``,
            e.g. ``[[user, likes, post]]``: posts both users like). Null: :func:`default_path`
            (common friends for ``friend``).
        edge_dropout: in training, the share of the graph's entries dropped before the
            common neighbours are counted (:func:`drop_entries`; the paper's Cora runs: 0.4).
        layer_norm: LayerNorm after each hidden layer of the pair MLP (as the paper's runs).
        skip: also add a linear function of the heuristic inputs to the score (needs
            ``heuristics``). On ego-Facebook the best ranking found over those inputs alone is
            linear in them (``RA / d_v^0.2`` is one such point), and the MLP, whose inputs are
            dominated by the embedding products, did not reach it; the skip path gives the
            score that family directly. Measured there, it did not help (validation MRR
            0.8386 with BCE, 0.8479 with ``approx_mrr``, against 0.8476 without it).
        completion: ``jaccard``: one more heuristic input, resource allocation with the
            common neighbours completed, ``RA + completion_alpha * side``
            (:class:`graphrec.models.completion.CompletionTable`: the neighbours of one end
            weighted by the Jaccard of the missing edge to the other end), NCNC's idea with
            a fixed first stage. Within one node type only; needs ``heuristics``. On
            ego-Facebook it raised validation MRR by 0.0006 over 3 seeds at 128 channels.
        completion_alpha: the completed part's weight in that input.
        completion_max_products: the largest sparse product completion may expand.
        combine: how the parts meet. ``concat``: one MLP over the concatenated parts.
            ``branches``: the reference code's predictor (``cn1`` with ``--use_xlin
            --tailact``): the common neighbours' embeddings first get a residual two-layer
            MLP (``z + f(z)``) before they are summed, the sum and the product ``z_u * z_v``
            each go through their own MLP into ``hidden`` (the sum's scaled by a learned
            ``beta``, heuristic inputs, if any, through a linear map), they are added, and
            ``num_layers`` linear layers score the result (2 on Cora, 3 with its
            ``--twolayerlin`` on CiteSeer). ``layer_norm`` and ``dropout`` apply in every
            branch, as there.
    """

    reads_graph = True

    def __init__(self, dim: int, edge_type, hidden: int = 64, num_layers: int = 2,
                 dropout: float = 0.0, cn_weight: str = "ra", heuristics: bool | str = True,
                 cn_path=None, edge_dropout: float = 0.0, layer_norm: bool = False,
                 skip: bool = False, completion: str = "none",
                 completion_alpha: float = 0.2, completion_max_products: int = 1 << 27,
                 combine: str = "concat"):
        super().__init__()
        self.edge_type = as_edge_type(edge_type)
        s, _, t = self.edge_type
        self.path = None
        if cn_path:
            path = [as_edge_type(et) for et in cn_path]
            path = path * 2 if len(path) == 1 else path
            if len(path) != 2 or path[0][0] != s or path[1][0] != t or path[0][2] != path[1][2]:
                raise ConfigError(
                    f"cn_path={cn_path} for task {self.edge_type}: give [[{s}, r1, w], "
                    f"[{t}, r2, w]] (both relations ending at one node type w)")
            self.path = path
        if cn_weight not in CN_WEIGHTS:
            raise ConfigError(f"cn_weight={cn_weight!r}; choose one of {CN_WEIGHTS}")
        if heuristics not in (True, False, "log"):
            raise ConfigError(f"heuristics={heuristics!r}; choose true, false or log")
        if not 0 <= edge_dropout < 1:
            raise ConfigError(f"edge_dropout={edge_dropout}; give a share in [0, 1)")
        self.cn_weight, self.heuristics = cn_weight, heuristics
        self.edge_dropout = edge_dropout
        if completion not in FIRST_STAGES:
            raise ConfigError(f"completion={completion!r}; choose one of {FIRST_STAGES}")
        if completion != "none" and not heuristics:
            raise ConfigError("completion adds a heuristic input; set heuristics=true or "
                              "heuristics=log as well")
        # One relation within one node type on both sides (common friends): the task's own
        # relation when cn_path is unset (default_path), else the path given must be one.
        single = self.path is None or (self.path[0] == self.path[1]
                                       and self.path[0][0] == self.path[0][2])
        if completion != "none" and (s != t or not single):
            raise ConfigError(f"completion is for a relation within one node type, not "
                              f"{self.edge_type} along {self.path}; set "
                              f"model.decoder.completion=none or leave model.decoder.cn_path "
                              f"unset")
        self.completion, self.completion_max_products = completion, completion_max_products
        self.completion_alpha = completion_alpha
        n_heur = NUM_HEURISTICS + (completion != "none")
        if combine not in COMBINES:
            raise ConfigError(f"combine={combine!r}; choose one of {COMBINES}")
        self.combine = combine

        def block(width_in: int, norm: bool = layer_norm) -> list[nn.Module]:
            # No placeholder when off: the layer indices of earlier checkpoints stay valid.
            ln = [nn.LayerNorm(hidden)] if norm else []
            return [nn.Linear(width_in, hidden), *ln, nn.ReLU(), nn.Dropout(dropout)]

        width = hidden
        layers: list[nn.Module] = []
        if combine == "concat":
            self.cn_lin = nn.Linear(dim, dim)
            width = 2 * dim + (n_heur if heuristics else 0)
        else:
            self.cn_node = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Dropout(dropout),
                                         nn.Linear(dim, dim),
                                         *([nn.LayerNorm(dim)] if layer_norm else []),
                                         nn.ReLU(), nn.Dropout(dropout))
            self.cn_branch = nn.Sequential(*block(dim, norm=False), *block(hidden))
            self.pair_branch = nn.Sequential(*block(dim))
            self.heur_branch = nn.Linear(n_heur, hidden) if heuristics else None
            self.beta = nn.Parameter(torch.ones(1))
        for _ in range(num_layers - 1):
            layers += block(width)
            width = hidden
        self.mlp = nn.Sequential(*layers, nn.Linear(width, 1))
        if skip and not heuristics:
            raise ConfigError("skip=true adds a linear function of the heuristic inputs; set "
                              "heuristics=true or heuristics=log as well")
        # None when off: checkpoints without the option keep their state dict keys.
        self.skip = nn.Linear(n_heur, 1, bias=False) if skip else None
        self._cache: tuple | None = None
        self._table: tuple | None = None  # (adjacency, CompletionTable) of the last graph

    def adjacency(self, graph) -> tuple[Adjacency, int]:
        """Both sides' neighbourhoods as one adjacency, and the row offset of target nodes.

        Rows ``0..n_s-1`` are source nodes; target nodes sit at ``offset + v`` (offset 0 when
        both sides read one relation of one node type, which is then taken undirected).
        Cached while ``graph``'s edge tensors are the same objects.
        """
        if self.path is None:
            self.path = default_path(self.edge_type, graph.edge_types)
        first, second = self.path
        ei1, ei2 = graph[first].edge_index, graph[second].edge_index
        # Identity, not data_ptr: the cache holds the tensors, so their memory cannot be
        # reused by a later step's graph and mistaken for them.
        if self._cache is not None and self._cache[0] is ei1 and self._cache[1] is ei2:
            return self._cache[2], self._cache[3]
        n_s, n_w = graph[first[0]].num_nodes, graph[first[2]].num_nodes
        if first == second:
            undirected = first[0] == first[2]  # within one type: both directions count
            adj = Adjacency.from_edge_index(ei1, max(n_s, n_w), undirected=undirected)
            offset = 0
        else:
            offset = n_s
            n = max(n_s + graph[second[0]].num_nodes, n_w)
            both = torch.cat([ei1, torch.stack([ei2[0] + offset, ei2[1]])], 1)
            adj = Adjacency.from_edge_index(both, n, undirected=False)
        self._cache = (ei1, ei2, adj, offset)
        return adj, offset

    def completion_table(self, adj: Adjacency) -> CompletionTable:
        """The completion table of ``adj``, cached while the same adjacency is passed (the
        evaluation graphs; each training step's graph is new, so its table is rebuilt)."""
        if self._table is None or self._table[0] is not adj:
            self._table = (adj, CompletionTable(adj, self.completion_max_products))
        return self._table[1]

    def forward(self, z: dict, src: Tensor, dst: Tensor, graph) -> Tensor:
        """Scores ``[...]`` of ``src [...]`` against ``dst [...]`` (broadcast) ids in ``graph``."""
        if graph is None:
            raise ConfigError("the ncn decoder reads the split's graph, which this caller does "
                              "not pass (data.loader=neighbor); use data.loader=full")
        s, _, t = self.edge_type
        src, dst = torch.broadcast_tensors(src, dst)
        shape = src.shape
        src, dst = src.reshape(-1), dst.reshape(-1)
        adj, offset = self.adjacency(graph)
        if self.training and self.edge_dropout > 0:
            adj = drop_entries(adj, self.edge_dropout)
        w_type = self.path[0][2]
        weight = neighbour_weight(adj, self.cn_weight)[:graph[w_type].num_nodes]
        zw = z[w_type] if self.combine == "concat" else z[w_type] + self.cn_node(z[w_type])
        cn, feats = common_neighbour_sum(adj, zw, torch.stack([src, dst + offset]), weight)
        parts = [z[s][src] * z[t][dst], cn]
        if self.heuristics:
            deg = adj.out_deg.to(cn.dtype)
            aa, ra = feats[:, 1], feats[:, 2]
            if self.heuristics == "log":
                aa, ra = (aa + LOG_EPS).log(), (ra + LOG_EPS).log()
            inputs = [feats[:, 0].log1p(), aa, ra, deg[src].log1p(), deg[dst + offset].log1p()]
            if self.completion != "none":
                side = self.completion_table(adj).side(torch.stack([src, dst])).to(cn.dtype)
                side = feats[:, 2] + self.completion_alpha * side
                inputs.append((side + LOG_EPS).log() if self.heuristics == "log" else side)
            parts.append(torch.stack(inputs, 1))
        if self.combine == "concat":
            parts[1] = self.cn_lin(cn)
            hidden = torch.cat(parts, 1)
        else:
            hidden = self.pair_branch(parts[0]) + self.beta * self.cn_branch(cn)
            if self.heur_branch is not None:
                hidden = hidden + self.heur_branch(parts[2])
        out = self.mlp(hidden)
        if self.skip is not None:
            out = out + self.skip(parts[-1])
        return out.view(shape)
