"""Link losses on the scores of positives ``[P]`` and of their own negatives ``[P, K]``.

* ``bce``: binary cross-entropy, every pair labelled on its own (the GAE objective).
* ``bpr``: ``-log sigmoid(s+ - s-)`` per (positive, negative) (Rendle et al., UAI 2009).
* ``infonce``: sampled softmax of the positive among itself and its K negatives at
  temperature ``tau`` (``-log softmax([s+, s-_1..K] / tau)[0]``; Oord et al., 2018).
* ``margin``: ``max(0, margin - s+ + s-)`` per (positive, negative).
* ``approx_mrr``: minus the positive's reciprocal rank among its K negatives, the rank
  smoothed as ``1 + sum_k sigmoid((s-_k - s+) / tau)`` (ApproxRank; Qin, Liu & Li, Information
  Retrieval 2010). Positives already ranked far down or far up give almost no gradient, so
  training spends itself on the contested first places that MRR is decided by; the
  likelihood losses instead weigh most the positives no score can rescue.

The ranking losses compare a positive only with its own negatives (same source), which is
what MRR and Hits@K reward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from graphrec.utils.errors import ConfigError

LOSSES = ("bce", "bpr", "infonce", "margin", "approx_mrr")


def check_loss(name: str) -> str:
    if name not in LOSSES:
        raise ConfigError(f"loss={name!r} is unknown; choose one of {LOSSES} "
                          "(e.g. task.friend.loss=bpr)")
    return name


def link_loss(name: str, pos: Tensor, neg: Tensor, temperature: float = 0.1,
              margin: float = 1.0) -> Tensor:
    """The loss ``name`` of positives ``pos [P]`` against their negatives ``neg [P, K]``."""
    if name == "bce":
        return F.binary_cross_entropy_with_logits(
            torch.cat([pos, neg.reshape(-1)]),
            torch.cat([torch.ones_like(pos), torch.zeros_like(neg.reshape(-1))]))
    if name == "bpr":
        return -F.logsigmoid(pos[:, None] - neg).mean()
    if name == "infonce":
        logits = torch.cat([pos[:, None], neg], 1) / temperature
        return F.cross_entropy(logits, torch.zeros(len(pos), dtype=torch.long,
                                                   device=pos.device))
    if name == "margin":
        return F.relu(margin - pos[:, None] + neg).mean()
    if name == "approx_mrr":
        rank = 1 + torch.sigmoid((neg - pos[:, None]) / temperature).sum(1)
        return -(1 / rank).mean()
    check_loss(name)
    raise AssertionError  # unreachable: check_loss raised
