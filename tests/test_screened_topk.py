"""The bf16-screened top-K returns the float32 top-K, on the inputs that could break it."""

import pytest
import torch

import graphrec.metrics.screened_topk as screened
from graphrec.metrics.retrieval import topk_retrieval

SMALL = dict(block=96, tile=512, seed=128)  # many blocks and tiles on a small catalogue


def clustered(n, d=32, clusters=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(clusters, d, generator=g)
    c = centers[torch.randint(0, clusters, (n,), generator=g)]
    c = c + 0.4 * torch.randn(n, d, generator=g)
    return c * (0.2 + torch.rand(n, 1, generator=g))  # norms spread: the scan stops early


def exclusions(num_q, n, per_query=15, seed=1):
    g = torch.Generator().manual_seed(seed)
    rows = torch.arange(num_q).repeat_interleave(per_query)
    cols = torch.randint(0, n, (num_q * per_query,), generator=g)
    self_pairs = torch.stack([torch.arange(num_q), torch.arange(num_q)])
    return torch.cat([torch.stack([rows, cols]), self_pairs], 1)


def assert_exact(q, c, k, ex, got):
    """Same score lists as the float32 path; every id admissible and scored as returned."""
    want_s, _ = topk_retrieval(q, c, k, ex, chunk_size=64)
    s, i = got
    assert torch.allclose(s, want_s, rtol=1e-5, atol=1e-5 * float(want_s[want_s.isfinite()]
                                                                   .abs().max()), equal_nan=False)
    assert torch.equal(s.isfinite(), want_s.isfinite())
    assert torch.equal(i >= 0, s.isfinite())
    rows, slots = (i >= 0).nonzero(as_tuple=True)
    ids = i[rows, slots]
    assert torch.allclose((q[rows] * c[ids]).sum(1), s[rows, slots], rtol=1e-5, atol=1e-4)
    banned = set(map(tuple, ex.T.tolist())) if ex is not None else set()
    assert not banned & set(zip(rows.tolist(), ids.tolist()))
    for r in range(i.size(0)):  # no candidate twice in a list
        row = i[r][i[r] >= 0]
        assert row.unique().numel() == row.numel()


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e4])
def test_equals_float32_topk_with_exclusions_at_any_magnitude(scale):
    c = clustered(6000) * scale
    q = c[:300]
    ex = exclusions(300, 6000)
    stats = {}
    got = screened.screened_topk(q, c, 20, ex, stats=stats, **SMALL)
    assert_exact(q, c, 20, ex, got)
    # The screen did its job: most pairs were never scored in float32.
    assert stats["rescored"] < 0.1 * 300 * 6000
    assert stats["fallback"] == 0


def test_ties_and_near_ties_below_bf16_resolution():
    """Duplicated rows tie exactly; rows apart by less than bf16's step reorder in bf16."""
    g = torch.Generator().manual_seed(3)
    base = torch.randn(50, 16, generator=g)
    c = base[torch.randint(0, 50, (4000,), generator=g)]
    c = c + 1e-4 * torch.randn(4000, 16, generator=g) * (torch.rand(4000, 1, generator=g) > 0.5)
    q = base[:40] + 1e-3 * torch.randn(40, 16, generator=g)
    got = screened.screened_topk(q, c, 30, None, **SMALL)
    assert_exact(q, c, 30, None, got)


def test_the_margin_is_what_makes_it_exact(monkeypatch):
    """Without the error margin, bf16 rounding drops a true top-k pair.

    ``a`` scores 17.44 in float32 but 16.0 in bf16: its large parts cancel in the sum and
    each rounds the wrong way. Ten rows ``b`` score exactly 17.0 in both and have the
    largest norms, so they set the bound before ``a`` is screened."""
    q = torch.cat([torch.ones(32), -torch.ones(32), torch.zeros(8)])
    a = torch.cat([torch.full((32,), 8.03), torch.full((32,), 7.485), torch.zeros(8)])
    b = torch.zeros(10, 72)
    b[:, 0] = 17.0
    b[:, 64:] = 100.0 * torch.eye(8).repeat(2, 1)[:10]
    filler = 0.01 * torch.randn(2000, 72, generator=torch.Generator().manual_seed(5))
    c = torch.cat([b, filler[:1000], a[None], filler[1000:]])
    q = q[None]
    assert float(q @ a) == pytest.approx(17.44, abs=1e-3)
    assert float((q.bfloat16() @ a[None].bfloat16().T).float()) == 16.0
    small = dict(block=8, tile=512, seed=10)  # the seed is the ten b rows
    _, ids = screened.screened_topk(q, c, 5, None, **small)
    assert 1010 in ids[0].tolist()
    monkeypatch.setattr(screened, "MARGIN", 0.0)
    _, ids = screened.screened_topk(q, c, 5, None, **small)
    assert 1010 not in ids[0].tolist()


def test_negative_and_exhausted_queries_fall_back_exactly():
    c = clustered(3000).abs()
    q = torch.cat([-c[:5], c[20:30]])  # queries 0-4: every score negative
    # Query 5 may see only 7 candidates: its list ends in -inf / -1.
    banned = torch.ones(3000, dtype=torch.bool)
    banned[:7] = False
    others = exclusions(15, 3000)
    ex = torch.cat([others[:, others[0] != 5],
                    torch.stack([torch.full((int(banned.sum()),), 5), banned.nonzero()[:, 0]])], 1)
    stats = {}
    got = screened.screened_topk(q, c, 12, ex, stats=stats, **SMALL)
    assert_exact(q, c, 12, ex, got)
    assert stats["fallback"] == 6
    assert (got[1][5, 7:] == -1).all() and (got[1][5, :7] >= 0).all()


def test_gives_up_where_nothing_can_be_pruned():
    """Every row scores about 8 while norms differ in dimensions the queries do not see:
    every pair is within the margin, so the plain path takes over."""
    g = torch.Generator().manual_seed(6)
    c = torch.cat([torch.ones(5000, 8) + 1e-3 * torch.randn(5000, 8, generator=g),
                   10 * torch.randn(5000, 8, generator=g)], 1)
    q = torch.cat([c[:200, :8], torch.zeros(200, 8)], 1)
    stats = {}
    got = screened.screened_topk(q, c, 10, None, stats=stats, **SMALL)
    assert_exact(q, c, 10, None, got)
    assert stats["fallback"] == 200
    assert stats["blocks"] == 1  # the first block gave up; no later block was screened


def test_non_finite_inputs_behave_as_the_plain_path():
    c = clustered(3000)
    c[7, 3] = float("nan")
    q = c[:10]
    want = topk_retrieval(q, c, 5, None)
    got = screened.screened_topk(q, c, 5, None, **SMALL)
    assert torch.equal(got[1], want[1])


def test_rejects_bad_arguments():
    c = clustered(100)
    with pytest.raises(ValueError, match="k must be"):
        screened.screened_topk(c[:2], c, 101)
    with pytest.raises(ValueError, match="multiple of 64"):
        screened.screened_topk(c[:2], c, 5, tile=100)
