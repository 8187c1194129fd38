"""Non-learned link baselines as a LightningModule (``model=heuristic``).

It plugs into the same train/evaluate entry points, data, splits and metrics as the GNN: it
has no parameters, so training skips fitting, and on each val/test batch it scores pairs on
that batch's own message-passing graph (train edges for val, train + val for test), the only
graph a learned model would see for that split.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from graphrec.data.schema import reverse_edge_type
from graphrec.models.heuristics import HEURISTICS, HeuristicScorer
from graphrec.module import EvaluatedModule
from graphrec.tasks.base import build_task, task_class
from graphrec.tasks.link import LinkTask
from graphrec.tasks.link_eval import evaluate_link
from graphrec.utils.errors import ConfigError, located

# The short names papers use, beside the full ones of graphrec.models.heuristics.
ALIASES = {"cn": "common_neighbors", "jaccard": "jaccard", "aa": "adamic_adar",
           "ra": "resource_allocation", "pa": "preferential_attachment", "katz": "katz",
           "ppr": "ppr"}
RELATIONS = ("all", "target")


class HeuristicModule(EvaluatedModule):
    """Scores every link task with one heuristic over the split's message-passing graph.

    Args:
        metadata, node_specs, tasks: as for :class:`graphrec.module.GraphRecModule`; every task
            must be a link task.
        score: ``cn``, ``jaccard``, ``aa``, ``ra``, ``pa``, ``katz`` or ``ppr`` (or the full
            names in ``graphrec.models.heuristics.HEURISTICS``).
        relations: ``all``: the graph is every relation of the message-passing graph as one
            homogeneous graph (node ids offset per type), so e.g. common neighbours of a user
            and a job are friends of the user who applied to the job; ``target``: only the
            task's own relation (and its reverse).
        undirected: treat every edge as undirected.
        options: keyword arguments of the score (katz: ``beta``, ``max_length``; ppr:
            ``alpha``, ``eps``, ``method``, ``tol``, ``max_iterations``, ``symmetric``).
            ppr's ``symmetric`` defaults to the task's own: an undirected task (friend) is
            scored ``ppr(u, v) + ppr(v, u)``, since which end of a friendship is ``u`` is
            arbitrary and a one-sided score would depend on it.
    """

    def __init__(self, metadata, node_specs: Mapping, tasks: Mapping, score: str = "aa",
                 relations: str = "all", undirected: bool = True,
                 options: Mapping | None = None):
        super().__init__()
        self.save_hyperparameters()
        name = ALIASES.get(score, score)
        if name not in HEURISTICS:
            raise ConfigError(f"model.score={score} is no heuristic; choose one of "
                              f"{sorted(ALIASES)}")
        if relations not in RELATIONS:
            raise ConfigError(f"model.relations={relations}; choose one of {RELATIONS}")
        nodes = [k for k, spec in tasks.items() if not issubclass(task_class(k, spec), LinkTask)]
        if nodes:
            raise ConfigError(f"model=heuristic scores links only, but tasks {nodes} are not "
                              "link tasks; select link tasks only, e.g. task=[friend]")
        self.score_name, self.relations, self.undirected = name, relations, undirected
        self.options = dict(options or {})
        self.node_types = list(metadata[0])
        sizes = [int(node_specs[nt]["num_nodes"]) for nt in self.node_types]
        offsets = torch.cumsum(torch.tensor([0, *sizes]), 0).tolist()
        self.offset = dict(zip(self.node_types, offsets, strict=False))
        self.num_nodes = offsets[-1]
        # Task modules only carry each task's options (decoder unused: it has no parameters).
        dot = {"_target_": "graphrec.models.decoders.DotProduct"}
        self.tasks = {name: build_task(name, spec, 1, dot, {}, node_specs)
                      for name, spec in tasks.items()}

    def graph_edges(self, graph, edge_type) -> torch.Tensor:
        """``[2, E]`` global-id edges of the relations the score looks at, from ``graph``."""
        parts = []
        for et in graph.edge_types:
            if self.relations == "target" and et not in (edge_type,
                                                         reverse_edge_type(edge_type)):
                continue
            ei = graph[et].edge_index
            parts.append(torch.stack([ei[0] + self.offset[et[0]], ei[1] + self.offset[et[2]]]))
        return torch.cat(parts, 1) if parts else torch.zeros(2, 0, dtype=torch.long)

    def scorer(self, graph, edge_type, symmetric: bool = False) -> HeuristicScorer:
        options = dict(self.options)
        if self.score_name == "ppr":
            options.setdefault("symmetric", symmetric)
        return HeuristicScorer(self.score_name, self.num_nodes, self.undirected,
                               **options).fit(self.graph_edges(graph, edge_type))

    def pair_score(self, graph, task):
        """``score(src [...], dst [...]) -> [...]`` of ``task``'s pairs on ``graph`` (the
        split's message-passing graph), ids local to the task's node types, broadcast."""
        s, _, d = task.edge_type
        scorer = self.scorer(graph, task.edge_type, task.symmetric)
        src_off, dst_off = self.offset[s], self.offset[d]

        def score(src, dst):
            src, dst = torch.broadcast_tensors(src, dst)
            pairs = torch.stack([src.reshape(-1) + src_off, dst.reshape(-1) + dst_off])
            return scorer(pairs).view(src.shape)

        return score

    def _evaluate(self, batch, split: str) -> dict[str, float]:
        graph, targets = batch["graph"], batch["targets"]
        metrics, primary = {}, []
        for name, task in self.tasks.items():
            s, _, d = task.edge_type
            score = self.pair_score(graph, task)
            full = None
            if task.full_ranking:
                n_dst = graph[d].num_nodes
                cands = torch.arange(n_dst)

                def rows(q, c, score=score, cands=cands):
                    # Every candidate of the target type for each query source.
                    return score(q[:, None], cands[None, :])

                full = (torch.arange(graph[s].num_nodes), cands, rows)
            with located(f"{split}/{name}"):
                task_metrics = evaluate_link(score, targets[name], graph, task.edge_type,
                                             full=full, sink=task.popularity_samples,
                                             **task.eval_options)
            for key, value in task_metrics.items():
                metrics[f"{split}/{name}/{key}"] = value
            primary.append(metrics[f"{split}/{name}/{task.primary_metric}"])
        return self.log_split(metrics, primary, split)

    def configure_optimizers(self):
        return None
