"""AdamW that also takes sparse gradients: lazy Adam on the rows of embedding tables a step used.

A mini-batch at a million users touches about 160k rows of the 1M-row user ID table. With dense
gradients every step still zero-fills, reads and updates all rows. Sparse gradients
(``nn.Embedding(sparse=True)``) make the table's cost follow the batch.

Why by hand: torch's ``AdamW`` rejects sparse gradients and ``SparseAdam`` rejects dense ones,
while Lightning's automatic optimization (gradient accumulation, schedulers, checkpoints) drives
one optimizer. This one applies the ``AdamW`` update to dense gradients and the ``SparseAdam``
update (moments and parameters of the touched rows only, bias correction by the parameter's
step count) to sparse ones; tests check both against torch's own optimizers.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class DenseSparseAdamW(torch.optim.Optimizer):
    """AdamW on dense gradients, lazy (row-wise) Adam with decoupled weight decay on sparse ones.

    Args:
        params: parameters or parameter groups.
        lr, betas, eps, weight_decay: as in ``torch.optim.AdamW``. Sparse rows decay only when
            a step touches them.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01):
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"invalid AdamW settings: lr={lr}, betas={betas}, eps={eps}, "
                             f"weight_decay={weight_decay}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps,
                                  "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            decay = 1 - lr * group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float64)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p,
                                                           memory_format=torch.preserve_format)
                state["step"] = state["step"] + 1  # a new tensor: loaded states may share it
                t = float(state["step"])
                step_size = lr / (1 - beta1 ** t)
                root_bc2 = math.sqrt(1 - beta2 ** t)
                m, v = state["exp_avg"], state["exp_avg_sq"]
                if p.grad.is_sparse:
                    grad = p.grad.coalesce()
                    rows, values = grad.indices()[0], grad.values()
                    m_rows = m[rows].lerp_(values, 1 - beta1)
                    v_rows = v[rows].mul_(beta2).addcmul_(values, values, value=1 - beta2)
                    m[rows], v[rows] = m_rows, v_rows
                    denom = v_rows.sqrt().div_(root_bc2).add_(eps)
                    p[rows] = p[rows].mul_(decay).addcdiv_(m_rows, denom, value=-step_size)
                else:
                    p.mul_(decay)
                    m.lerp_(p.grad, 1 - beta1)
                    v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                    p.addcdiv_(m, v.sqrt().div_(root_bc2).add_(eps), value=-step_size)
        return loss

    # Lazy Adam leaves the moments of rows no step touched at zero: a 2^20-row table whose
    # texts use a fifth of its buckets would otherwise write 4/5 zeros twice into every
    # checkpoint. Rows with a non-zero moment are stored with their index; loading puts the
    # zeros back, so a resumed run continues from exactly the same state.
    def state_dict(self) -> dict:
        out = super().state_dict()
        out["state"] = {k: _compact_rows(v) for k, v in out["state"].items()}
        return out

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = {**state_dict,
                      "state": {k: _dense_rows(v) for k, v in state_dict["state"].items()}}
        super().load_state_dict(state_dict)


MOMENTS = ("exp_avg", "exp_avg_sq")


def _compact_rows(state: dict) -> dict:
    m = state.get("exp_avg")
    if m is None or m.dim() != 2 or m.is_sparse:
        return state
    touched = ((m != 0) | (state["exp_avg_sq"] != 0)).any(1)
    if touched.float().mean() > 0.5:  # mostly touched: little to save, keep torch's format
        return state
    rows = touched.nonzero().squeeze(1)
    out = {k: v for k, v in state.items() if k not in MOMENTS}
    out.update(rows=rows, num_rows=m.size(0), **{f"{k}_rows": state[k][rows] for k in MOMENTS})
    return out


def _dense_rows(state: dict) -> dict:
    if "rows" not in state:
        return state
    out = {k: v for k, v in state.items()
           if k not in ("rows", "num_rows", *(f"{m}_rows" for m in MOMENTS))}
    for k in MOMENTS:
        values = state[f"{k}_rows"]
        dense = values.new_zeros((int(state["num_rows"]), values.size(1)))
        dense[state["rows"]] = values
        out[k] = dense
    return out


def has_sparse_tables(module: nn.Module) -> bool:
    """Whether any embedding table under ``module`` produces sparse gradients."""
    return any(isinstance(m, (nn.Embedding, nn.EmbeddingBag)) and m.sparse
               for m in module.modules())


def build_optimizer(module: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """``AdamW`` over ``module``, or :class:`DenseSparseAdamW` when a table has sparse
    gradients (the two agree on dense parameters)."""
    adamw = DenseSparseAdamW if has_sparse_tables(module) else torch.optim.AdamW
    return adamw(module.parameters(), lr=lr, weight_decay=weight_decay)


def use_sparse_gradients(module: nn.Module) -> int:
    """Switches the ID embedding tables under ``module`` to sparse gradients; returns how many.

    Bags (``nn.EmbeddingBag``, the hashed bag of words) keep their own setting (the featurizer's
    ``sparse_grad``): their sparse gradient has one row per token occurrence (2.3M rows for a
    1M-user batch's posts), which only pays off against a table much larger than the batch.
    """
    tables = [m for m in module.modules() if type(m) is nn.Embedding]
    for table in tables:
        table.sparse = True
    return len(tables)
