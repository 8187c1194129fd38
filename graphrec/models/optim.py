"""One optimizer for models whose embedding tables have sparse gradients.

A hashed text table has millions of rows of which one batch touches a few thousand. With
``sparse=True`` its gradient names just those rows, and torch's ``SparseAdam`` ("lazy" Adam)
updates only them, so a step costs what the batch touches instead of the whole table (dense
AdamW on a 2M x 64 table takes seconds per step on a CPU). torch has no Adam that takes both
sparse and dense gradients, and Lightning's automatic optimization drives one optimizer, so
this class steps an ``AdamW`` (dense parameters) and a ``SparseAdam`` (sparse ones) as one.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


def sparse_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Weights of the embedding modules that produce sparse gradients (``sparse=True``)."""
    return [m.weight for m in model.modules()
            if isinstance(m, (nn.Embedding, nn.EmbeddingBag)) and m.sparse]


class SparseDenseAdamW(torch.optim.Optimizer):
    """``AdamW`` on ``dense`` parameters and ``SparseAdam`` on ``sparse`` ones, stepped together.

    ``param_groups`` are the two inner optimizers' own groups (dense first), so learning-rate
    schedulers and loggers that edit or read them act on the real optimizers.

    Args:
        dense: parameters with ordinary (dense) gradients.
        sparse: parameters whose gradients are sparse (no weight decay: SparseAdam has none).
        lr: learning rate of both.
        weight_decay: AdamW's decoupled weight decay on the dense parameters.
    """

    def __init__(self, dense: Iterable[nn.Parameter], sparse: Iterable[nn.Parameter],
                 lr: float = 1e-3, weight_decay: float = 0.0):
        dense, sparse = list(dense), list(sparse)
        if not sparse:
            raise ValueError("SparseDenseAdamW needs at least one sparse parameter; use AdamW")
        super().__init__(dense + sparse, {"lr": lr})
        self.dense = torch.optim.AdamW(dense, lr=lr, weight_decay=weight_decay) if dense else None
        self.sparse = torch.optim.SparseAdam(sparse, lr=lr)
        self.param_groups = (self.dense.param_groups if self.dense else []) + \
            self.sparse.param_groups

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        if self.dense is not None:
            self.dense.step()
        self.sparse.step()
        return loss

    def state_dict(self) -> dict:
        return {"dense": self.dense.state_dict() if self.dense else None,
                "sparse": self.sparse.state_dict()}

    def load_state_dict(self, state_dict: dict) -> None:
        if self.dense is not None:
            self.dense.load_state_dict(state_dict["dense"])
        self.sparse.load_state_dict(state_dict["sparse"])


def build_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW over ``model``; embedding tables with sparse gradients get lazy Adam instead."""
    sparse = sparse_parameters(model)
    if not sparse:
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    ids = {id(p) for p in sparse}
    dense = [p for p in model.parameters() if id(p) not in ids]
    return SparseDenseAdamW(dense, sparse, lr=lr, weight_decay=weight_decay)
