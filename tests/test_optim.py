"""The dense/sparse AdamW: each half equals torch's own optimizer on the same gradients."""

import io

import pytest
import torch
from torch import nn

from graphrec.optim import DenseSparseAdamW, use_sparse_gradients


def _steps(opt, params, grads):
    for grad in grads:
        opt.zero_grad()
        for p, g in zip(params, grad):
            p.grad = g.clone()
        opt.step()


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_dense_gradients_follow_torch_adamw(weight_decay):
    torch.manual_seed(0)
    a, b = torch.randn(5, 3), torch.randn(4)
    grads = [(torch.randn(5, 3), torch.randn(4)) for _ in range(6)]
    ours = [nn.Parameter(a.clone()), nn.Parameter(b.clone())]
    ref = [nn.Parameter(a.clone()), nn.Parameter(b.clone())]
    _steps(DenseSparseAdamW(ours, lr=0.05, weight_decay=weight_decay), ours, grads)
    _steps(torch.optim.AdamW(ref, lr=0.05, weight_decay=weight_decay), ref, grads)
    for p, q in zip(ours, ref):
        torch.testing.assert_close(p, q)
    assert not torch.allclose(ours[0], a)


def test_sparse_gradients_follow_torch_sparse_adam_and_leave_other_rows_alone():
    torch.manual_seed(0)
    table = torch.randn(10, 4)
    steps = []
    for rows in ([1, 3, 3], [3, 7], [0, 1]):  # repeated rows are summed, as in embeddings
        idx = torch.tensor([rows])
        steps.append((torch.sparse_coo_tensor(idx, torch.randn(len(rows), 4), (10, 4)),))
    ours, ref = nn.Parameter(table.clone()), nn.Parameter(table.clone())
    _steps(DenseSparseAdamW([ours], lr=0.05, weight_decay=0.0), [ours], steps)
    _steps(torch.optim.SparseAdam([ref], lr=0.05), [ref], steps)
    torch.testing.assert_close(ours, ref)
    untouched = [2, 4, 5, 6, 8, 9]
    torch.testing.assert_close(ours[untouched], table[untouched])
    assert not torch.allclose(ours[[0, 1, 3, 7]], table[[0, 1, 3, 7]])


def test_sparse_tables_train_with_a_model_and_match_dense_on_the_first_step():
    """On the first step lazy and dense Adam agree on the touched rows; the untouched ones
    only move under dense Adam's zero-gradient momentum (none yet), so they agree too."""
    torch.manual_seed(0)
    dense = nn.Sequential(nn.Embedding(50, 8), nn.Linear(8, 1))
    sparse = nn.Sequential(nn.Embedding(50, 8), nn.Linear(8, 1))
    sparse.load_state_dict(dense.state_dict())
    assert use_sparse_gradients(sparse) == 1
    ids = torch.tensor([3, 9, 9, 41])
    for model, opt in ((dense, torch.optim.AdamW(dense.parameters(), lr=0.1, weight_decay=0)),
                       (sparse, DenseSparseAdamW(sparse.parameters(), lr=0.1, weight_decay=0))):
        model(ids).sum().backward()
        opt.step()
    assert sparse[0].weight.grad.is_sparse
    for p, q in zip(sparse.parameters(), dense.parameters()):
        torch.testing.assert_close(p, q)


def test_state_round_trips_through_a_checkpoint():
    p = nn.Parameter(torch.randn(6, 2))
    opt = DenseSparseAdamW([p], lr=0.1)
    _steps(opt, [p], [(torch.sparse_coo_tensor(torch.tensor([[1, 4]]), torch.ones(2, 2),
                                               (6, 2)),)])
    clone = nn.Parameter(p.detach().clone())
    restored = DenseSparseAdamW([clone], lr=0.1)
    buffer = io.BytesIO()  # through bytes, as a checkpoint does: no tensor is shared
    torch.save(opt.state_dict(), buffer)
    buffer.seek(0)
    restored.load_state_dict(torch.load(buffer))
    grad = (torch.sparse_coo_tensor(torch.tensor([[1]]), torch.ones(1, 2), (6, 2)),)
    _steps(opt, [p], [grad])
    _steps(restored, [clone], [grad])
    torch.testing.assert_close(p, clone)
    assert float(restored.state[clone]["step"]) == 2


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="invalid AdamW"):
        DenseSparseAdamW([nn.Parameter(torch.zeros(1))], lr=-1)


def test_training_state_is_released_after_fit():
    from graphrec.train import release_training_state

    table = torch.nn.Embedding(50, 4, sparse=True)
    dense = torch.nn.Linear(4, 1)
    module = torch.nn.ModuleDict({"table": table, "dense": dense})
    opt = DenseSparseAdamW(module.parameters(), lr=0.1)
    dense(table(torch.tensor([1, 2, 3]))).sum().backward()
    opt.step()
    assert len(opt.state) == 3 and table.weight.grad is not None
    weights = [p.detach().clone() for p in module.parameters()]
    release_training_state([opt], module)
    assert len(opt.state) == 0
    assert all(p.grad is None for p in module.parameters())
    assert all(torch.equal(p, w) for p, w in zip(module.parameters(), weights))
