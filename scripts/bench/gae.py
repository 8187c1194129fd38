"""GAE on Cora, side by side: graphrec's recipe against a plain PyG script, time per epoch.

    GRAPHREC_DATA_DIR=/path/to/data python scripts/bench/gae.py [--repeats 3] [--threads 1] [--json]

Both sides run the same model and protocol: a 2-layer GCN (1433 -> 32 -> 16) with an
inner-product decoder on Cora's bag-of-words features, an 85/5/10 random split of the
citations, Adam at lr 0.01, 200 full-graph epochs, each epoch one step on GAE's target A + I
(every train citation in both orientations and every paper with itself: 11,680 positives in
graphrec, 11,684 in PyG, whose splitter rounds the held-out counts down) against as many
fresh uniform negatives, then the validation AUC (one random non-edge per validation citation),
keeping the best epoch, whose model is tested once at the end.

- graphrec: ``train(cfg)`` of ``experiment=gae_cora`` as ``scripts/train.py`` runs it
  (Lightning loop, metric logging to CSV, the best checkpoint written to disk whenever the
  validation AUC improves). Epoch time: between consecutive epoch starts, i.e. step,
  validation, logging and checkpoint writes.
- PyG: the loop of PyG's ``examples/link_pred.py`` (``RandomLinkSplit``, ``GCNConv`` x2,
  ``negative_sampling`` every epoch, scikit-learn's ``roc_auc_score``), keeping the best
  validation state in memory. Epoch time: step and validation.

Data loading and the split are outside the timed region on both sides. Printed: the median
epoch time of each side (median over epochs, then over repeats), as wall time and as CPU time
of the process (steadier on a shared machine), their ratios, and the mean test AUC / AP of each
side over the repeats (seeds 0..repeats-1; each side draws its own split). ``--json`` adds
one JSON line of the same figures at the end (``scripts/bench/all.py`` reads it).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import tempfile
import time
import warnings

import torch

warnings.filterwarnings("ignore")


def _now() -> tuple[float, float]:
    # Wall time, and CPU time of this process: on a shared machine the second is what the
    # work itself costs, the first adds waiting for a core.
    return time.perf_counter(), time.process_time()


def _minus(b, a) -> tuple[float, float]:
    return b[0] - a[0], b[1] - a[1]


def _median(times, i: int) -> float:
    return statistics.median(t[i] for t in times[1:])  # the first epoch warms caches up


def graphrec_side(seed: int, epochs: int, out_dir: str) -> tuple[list[float], float, float]:
    import lightning as L
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from graphrec.runtime import CONFIG_DIR
    from graphrec.train import train

    class EpochClock(L.Callback):
        def __init__(self):
            self.starts = []

        def on_train_epoch_start(self, trainer, pl_module):
            self.starts.append(_now())

        def on_fit_end(self, trainer, pl_module):
            self.starts.append(_now())

    clock = EpochClock()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=[
            "experiment=gae_cora", "logger=csv", f"seed={seed}", f"trainer.max_epochs={epochs}"])
    with open_dict(cfg):
        cfg.paths.output_dir = out_dir
    # The clock rides along as one more callback of the recipe's own trainer.
    results = train(cfg, extra_callbacks=[clock])
    times = [_minus(b, a) for a, b in zip(clock.starts, clock.starts[1:])]
    return times, results["test"]["test/link/auc"], results["test"]["test/link/ap"]


def pyg_side(seed: int, epochs: int, root: str) -> tuple[list[float], float, float]:
    import torch_geometric.transforms as T
    from sklearn.metrics import average_precision_score, roc_auc_score
    from torch_geometric.datasets import Planetoid
    from torch_geometric.nn import GCNConv
    from torch_geometric.utils import negative_sampling

    torch.manual_seed(seed)
    transform = T.RandomLinkSplit(num_val=0.05, num_test=0.10, is_undirected=True,
                                  add_negative_train_samples=False)
    train_data, val_data, test_data = transform(Planetoid(root, "Cora")[0])

    class Net(torch.nn.Module):
        def __init__(self, in_channels, hidden_channels, out_channels):
            super().__init__()
            self.conv1 = GCNConv(in_channels, hidden_channels)
            self.conv2 = GCNConv(hidden_channels, out_channels)

        def encode(self, x, edge_index):
            return self.conv2(self.conv1(x, edge_index).relu(), edge_index)

        def decode(self, z, edge_label_index):
            return (z[edge_label_index[0]] * z[edge_label_index[1]]).sum(dim=-1)

    model = Net(train_data.num_features, 32, 16)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    criterion = torch.nn.BCEWithLogitsLoss()
    # GAE's target A + I, as the recipe trains it: both orientations of every train citation
    # and every paper paired with itself.
    n = train_data.num_nodes
    pos = torch.cat([train_data.edge_label_index, train_data.edge_label_index.flip(0),
                     torch.arange(n).expand(2, n)], 1)

    def train_step():
        model.train()
        optimizer.zero_grad()
        z = model.encode(train_data.x, train_data.edge_index)
        neg = negative_sampling(edge_index=train_data.edge_index, num_nodes=train_data.num_nodes,
                                num_neg_samples=pos.size(1), method="sparse")
        edge_label_index = torch.cat([pos, neg], dim=-1)
        edge_label = torch.cat([torch.ones(pos.size(1)), torch.zeros(neg.size(1))])
        out = model.decode(z, edge_label_index).view(-1)
        loss = criterion(out, edge_label)
        loss.backward()
        optimizer.step()
        return loss

    @torch.no_grad()
    def test(data):
        model.eval()
        z = model.encode(data.x, data.edge_index)
        out = model.decode(z, data.edge_label_index).view(-1).sigmoid()
        y = data.edge_label.cpu().numpy()
        return roc_auc_score(y, out.cpu().numpy()), average_precision_score(y, out.cpu().numpy())

    times, best_val, best_state = [], -1.0, None
    for _ in range(epochs):
        start = _now()
        train_step()
        val_auc, _ = test(val_data)
        if val_auc > best_val:
            best_val, best_state = val_auc, copy.deepcopy(model.state_dict())
        times.append(_minus(_now(), start))
    model.load_state_dict(best_state)
    auc, ap = test(test_data)
    return times, auc, ap


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads on both sides (1: steady figures on a shared machine)")
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from graphrec.sources.benchmarks import PlanetoidSource

    source = PlanetoidSource("Cora")
    source()  # copies the raw files once; both sides then read the same copy
    pyg_root = str(source._cache_root())
    sides = {"graphrec": [], "pyg": []}
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory() as out:
            times, auc, ap = graphrec_side(r, args.epochs, os.path.join(out, "run"))
        sides["graphrec"].append((_median(times, 0), _median(times, 1), auc, ap))
        times, auc, ap = pyg_side(r, args.epochs, pyg_root)
        sides["pyg"].append((_median(times, 0), _median(times, 1), auc, ap))
        print(f"repeat {r}: " + "; ".join(
            f"{k} {v[-1][0] * 1e3:.2f} ms/epoch wall, {v[-1][1] * 1e3:.2f} ms CPU, "
            f"test AUC {v[-1][2]:.4f} AP {v[-1][3]:.4f}" for k, v in sides.items()), flush=True)
    med = {k: [statistics.median(row[i] for row in v) for i in (0, 1)] for k, v in sides.items()}
    print(f"\nCora GAE, {args.epochs} epochs, {args.repeats} repeats, "
          f"{args.threads} torch thread(s), {os.cpu_count()} CPUs")
    print("| side | ms / epoch, wall | ms / epoch, CPU | test AUC (mean) | test AP (mean) |")
    print("|---|---|---|---|---|")
    for k, v in sides.items():
        print(f"| {k} | {med[k][0] * 1e3:.2f} | {med[k][1] * 1e3:.2f} | "
              f"{statistics.mean(row[2] for row in v):.4f} | "
              f"{statistics.mean(row[3] for row in v):.4f} |")
    print(f"speed-up, PyG / graphrec time per epoch: {med['pyg'][0] / med['graphrec'][0]:.2f}x "
          f"wall, {med['pyg'][1] / med['graphrec'][1]:.2f}x CPU")
    if args.json:
        print(json.dumps(summary(args, sides, med)))


def summary(args, sides: dict, med: dict) -> dict:
    """The printed figures as one dict: ms per epoch (wall, CPU) and mean test AUC / AP."""
    out = {"bench": "gae", "epochs": args.epochs, "repeats": args.repeats,
           "threads": args.threads}
    for k, v in sides.items():
        out[k] = {"wall_ms": round(med[k][0] * 1e3, 3), "cpu_ms": round(med[k][1] * 1e3, 3),
                  "test_auc": round(statistics.mean(row[2] for row in v), 4),
                  "test_ap": round(statistics.mean(row[3] for row in v), 4)}
    out["speedup_wall"] = round(med["pyg"][0] / med["graphrec"][0], 3)
    out["speedup_cpu"] = round(med["pyg"][1] / med["graphrec"][1], 3)
    return out


if __name__ == "__main__":
    main()
