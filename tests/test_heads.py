"""Node heads: ``hidden=0`` is a linear classifier, the default keeps its hidden layer."""

from __future__ import annotations

import torch

from graphrec.models.heads import MLPHead


def test_hidden_zero_head_is_one_linear_map():
    torch.manual_seed(0)
    head = MLPHead(16, 3, hidden=0, dropout=0.5).train()  # dropout must not apply either
    a, b = torch.randn(5, 16), torch.randn(5, 16)
    zero = torch.zeros(1, 16)
    # Affine: f(a + b) = f(a) + f(b) - f(0), exactly what a ReLU layer or dropout breaks.
    torch.testing.assert_close(head(a + b), head(a) + head(b) - head(zero))
    assert sum(p.numel() for p in head.parameters()) == 16 * 3 + 3


def test_default_head_keeps_its_hidden_layer():
    torch.manual_seed(0)
    head = MLPHead(16, 3).eval()
    a, b = torch.randn(5, 16), torch.randn(5, 16)
    assert sum(p.numel() for p in head.parameters()) == 16 * 64 + 64 + 64 * 3 + 3
    assert not torch.allclose(head(a + b), head(a) + head(b) - head(torch.zeros(1, 16)))
