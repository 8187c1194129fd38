"""Task losses on one sampled subgraph from PyG's neighbor loaders (``data.loader=neighbor``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def subgraph_loss(task, z: dict, batch) -> torch.Tensor:
    """The loss of ``task`` on its own sampled subgraph ``batch`` with embeddings ``z``.

    Link tasks score the loader's ``edge_label_index`` (the seed positives and the loader's
    uniform negatives, labels in ``edge_label``) instead of drawing negatives among the
    subgraph's nodes, which would be neighbors of the seeds rather than uniform targets.
    Node tasks classify the loader's seed nodes, which come first in their node type.
    """
    if task.kind == "link":
        store = batch[task.edge_type]
        index = store.edge_label_index
        out = task.score(z, index[0], index[1])
        return F.binary_cross_entropy_with_logits(out, store.edge_label.to(out.dtype))
    seeds = torch.arange(batch[task.node_type].batch_size, device=z[task.node_type].device)
    return task.loss(z, {"index": seeds}, batch)
