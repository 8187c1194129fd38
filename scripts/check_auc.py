"""Scores one split with a heuristic and compares graphrec's AUC / AP with scikit-learn's.

The check behind docs/metrics.md: the same positive and negative scores that
``scripts/train.py model=heuristic`` evaluates are dumped once (``--dump``) and fed to
``sklearn.metrics.roc_auc_score`` / ``average_precision_score`` (scikit-learn is in the
``dev`` extra). Any Hydra override of ``train.yaml`` can follow the options:

    python scripts/check_auc.py --split test experiment=ego_facebook model=heuristic \\
        model.score=pa
"""

from __future__ import annotations

import argparse

import hydra
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from graphrec.metrics.classification import binary_metrics
from graphrec.runtime import composed_datamodule


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=("val", "test"))
    parser.add_argument("--dump", help="save {'pos': [P], 'neg': [P, K]} scores here (.pt)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of train.yaml")
    args = parser.parse_args()
    cfg, tasks, datamodule = composed_datamodule(args.overrides)
    module = hydra.utils.instantiate(cfg.model)(
        metadata=datamodule.metadata, node_specs=datamodule.node_specs, tasks=tasks)
    if not hasattr(module, "pair_score"):
        raise SystemExit("this check scores pairs with model=heuristic only")
    batch = datamodule.batches[args.split]
    for name, task in module.tasks.items():
        score = module.pair_score(batch["graph"], task)
        target = batch["targets"][name]
        pos = score(target["pos"][0], target["pos"][1])
        neg = score(target["pos"][0][:, None], target["neg"])
        if args.dump:
            torch.save({"pos": pos, "neg": neg}, args.dump)
        labels = [1] * pos.numel() + [0] * neg.numel()
        flat = torch.cat([pos.flatten(), neg.flatten()]).double().numpy()
        ours = binary_metrics(pos, neg)
        ref = {"auc": roc_auc_score(labels, flat), "ap": average_precision_score(labels, flat)}
        for key in ("auc", "ap"):
            print(f"{args.split}/{name}/{key}: graphrec {ours[key]:.6f}  scikit-learn "
                  f"{ref[key]:.6f}  |diff| {abs(ours[key] - ref[key]):.2e}")


if __name__ == "__main__":
    main()
