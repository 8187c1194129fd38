"""Every speed and memory figure of the docs in one command, printed as one table.

    python scripts/bench/all.py                 # the docs' settings (estimated 3 h, 2 cores)
    python scripts/bench/all.py --quick         # small sizes, a few minutes on 2 cores
    python scripts/bench/all.py --only gae,sampler --out results.json
    python scripts/bench/all.py --reference-python /path/to/torch-sparse-env/bin/python

Runs each benchmark script of ``scripts/bench/`` in its own process (so each has its own peak
memory), reads the last line of its output that starts with ``{`` (its ``--json`` figures) and
prints one Markdown table: benchmark | figure | value | reference | ratio | target | met. A
reference is the comparison measured in the same run: PyG's script for GAE, the dense methods
for Katz and PPR, PyG's compiled sampler for graphrec's, one thread for the mini-batch epoch,
the bare matmul + top-k for full ranking, the untrimmed layers for a training step. The ratio
is value / reference, or reference / value where it reads "faster".

``--quick`` figures are not the docs' figures: targets on absolute values (seconds, GiB,
batches/s) are not checked there, only targets on ratios. ``gae`` and ``text`` read real data
(set ``GRAPHREC_DATA_DIR``). The compiled-sampler rows need a Python with torch-sparse or
pyg-lib: ``--reference-python``, or this Python if it has one; without one they are skipped.
A benchmark that fails gets a row with the first line of its error, the others still run, and
the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GIB_PER_GB = 1e9 / 2**30  # the docs state some targets in GB; the scripts measure GiB
COLUMNS = ("benchmark", "figure", "value", "reference", "ratio", "target", "met")
OPS = {"<": operator.lt, "<=": operator.le, ">=": operator.ge}
# The same test sampler.py makes before it times the compiled sampler.
HAS_COMPILED = ("import sys, torch_geometric.typing as t; "
                "sys.exit(not (t.WITH_PYG_LIB or t.WITH_TORCH_SPARSE))")


@dataclass(frozen=True)
class Run:
    """One process: ``python scripts/bench/<script> <args>``; ``{tmp}`` in an argument becomes
    a fresh temporary folder. ``blocked`` is ``(status, reason)`` when it cannot start."""

    label: str
    script: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    python: str = sys.executable
    blocked: tuple[str, str] | None = None


@dataclass(frozen=True)
class Target:
    on: str  # "value" or "ratio"
    op: str  # a key of OPS
    bound: float
    text: str


@dataclass(frozen=True)
class Figure:
    """One row: ``key`` (dotted path) in the JSON of run ``run``; a key ending in ``.*`` gives
    one row per entry of that dict. ``ref`` is the reference's key in ``ref_run`` (default:
    the same run); ``faster`` makes the ratio reference / value (a speed-up of two times)."""

    name: str
    run: str
    key: str
    ref: str | None = None
    ref_run: str | None = None
    faster: bool = False
    target: Target | None = None


@dataclass(frozen=True)
class Bench:
    name: str
    runs: tuple[Run, ...]
    figures: tuple[Figure, ...]


class Reference(NamedTuple):
    """The Python that runs PyG's compiled sampler, or why there is none."""

    python: str | None
    blocked: tuple[str, str] | None = None


# --- the benchmarks: the docs' settings, and the quick ones ------------------------------


def main_bench(quick: bool, ref: Reference) -> Bench:
    args = ("--runs", "1", "trainer.max_epochs=10") if quick else ("--runs", "3")
    return Bench("main", (Run("main job", "main.py", ("--json", *args)),), (
        Figure("median wall of the whole job, s", "main job", "wall_s"),
        Figure("peak RSS, GiB", "main job", "peak_gib"),
    ))


def gae_bench(quick: bool, ref: Reference) -> Bench:
    args = ("--repeats", "1", "--epochs", "20") if quick else ("--repeats", "3")
    run = "graphrec vs PyG"
    return Bench("gae", (Run(run, "gae.py", ("--json", *args)),), (
        Figure("Cora GAE ms / epoch, wall (ref: PyG)", run, "graphrec.wall_ms", "pyg.wall_ms",
               faster=True),
        Figure("Cora GAE ms / epoch, CPU (ref: PyG)", run, "graphrec.cpu_ms", "pyg.cpu_ms",
               faster=True),
        Figure("test AUC, mean (ref: PyG)", run, "graphrec.test_auc", "pyg.test_auc"),
    ))


def heuristics_bench(quick: bool, ref: Reference) -> Bench:
    # The docs' table is one run of each score ("--repeats 1"); quick: a 100k-edge graph.
    size = ("--nodes", "10000", "--edges", "100000", "--pairs", "10000", "--slice", "128")
    run = "heuristics"
    return Bench("heuristics", (Run(run, "heuristics.py",
                                    ("--json", "--repeats", "1", *(size if quick else ()))),), (
        Figure("adjacency build, s", run, "build_s"),
        Figure("random pairs, s:", run, "random.*"),
        Figure("evaluation-shaped pairs, s:", run, "eval.*"),
        Figure("katz, random pairs, s (ref: dense propagation)", run, "katz_dense.fast_s",
               "katz_dense.dense_s", faster=True),
        Figure("ppr push, random pairs, s (ref: power iteration)", run, "ppr_power.push_s",
               "ppr_power.power_s", faster=True),
        Figure("ppr push, max abs error against power iteration", run,
               "ppr_power.max_abs_error"),
    ))


SMALL_SAMPLER = ("--num-nodes", "20000", "--num-edges", "400000", "--batches", "5",
                 "--repeats", "1", "--warmup", "1")


def sampler_bench(quick: bool, ref: Reference) -> Bench:
    args = ("--json", "--threads", "1",
            *(SMALL_SAMPLER if quick else ("--batches", "10", "--repeats", "3")))
    ours, theirs = "graphrec sampler", "compiled sampler"
    return Bench("sampler", (
        Run(ours, "sampler.py", ("--sampler", "torch", *args)),
        Run(theirs, "sampler.py", ("--sampler", "compiled", *args),
            python=ref.python or sys.executable, blocked=ref.blocked),
    ), (
        Figure("NeighborLoader batches/s, 1 thread (ref: compiled)", ours, "batches_per_s",
               "batches_per_s", ref_run=theirs,
               target=Target("value", ">=", 8, ">= 8 batches/s")),
        Figure("sampled edges/s", ours, "edges_per_s"),
        Figure("CSC setup, s", ours, "setup_s"),
    ))


def contention_bench(quick: bool, ref: Reference) -> Bench:
    workers = ("0",) if quick else ("0", "1")
    rounds = ("--rounds", "1" if quick else "3")
    sampler_args = (f"--sampler-args={' '.join(SMALL_SAMPLER)}",) if quick else ()
    epoch_args = ("--epoch-overrides", "data.source.num_users=1000") if quick else ()
    sampler, epoch = "sampler vs compiled", "epoch vs one thread"
    figures = [
        Figure(f"sampler batches/s, {cond}, default threads (ref: compiled)", sampler,
               f"sampler.{cond}.graphrec", f"sampler.{cond}.compiled",
               target=Target("ratio", ">=", bound, f">= {bound}x"))
        for cond, bound in (("idle", 8), ("busy", 3))
    ]
    figures += [
        Figure(f"mini-batch epoch s, {cond}, {w} workers, default threads (ref: 1 thread)",
               epoch, f"epoch.{cond}.workers_{w}.default_s",
               f"epoch.{cond}.workers_{w}.one_thread_s",
               target=Target("ratio", "<=", 1.0, "<= 1x (no slower than 1 thread)"))
        for cond in ("idle", "busy") for w in workers
    ]
    return Bench("contention", (
        Run(sampler, "contention.py", ("--part", "sampler", "--json", *rounds, *sampler_args,
                                       "--reference-python", ref.python or sys.executable),
            blocked=ref.blocked),
        Run(epoch, "contention.py", ("--part", "epoch", "--json", *rounds, "--workers", *workers,
                                     *epoch_args)),
    ), tuple(figures))


def retrieval_bench(quick: bool, ref: Reference) -> Bench:
    size = ("--queries", "2000", "--candidates", "100000", "--repeats", "1") if quick else ()
    run = "full ranking vs bare"
    return Bench("retrieval", (Run(run, "retrieval.py", ("--part", "retrieval", "--json",
                                                         *size)),), (
        Figure("top-100 ranking with exclusions, s (ref: bare matmul + top-k)", run,
               "retrieval.topk_s", "retrieval.bare_s",
               target=Target("ratio", "<=", 1.5, "<= 1.5x")),
        Figure("peak extra RSS, GiB (ref: bare)", run, "retrieval.topk_peak_extra_gib",
               "retrieval.bare_peak_extra_gib",
               target=Target("value", "<", 2 * GIB_PER_GB, "< 2 GB")),
    ))


def scale_bench(quick: bool, ref: Reference) -> Bench:
    # docs/scale.md: one thread, fan-out [5, 3]; Hydra overrides go last.
    users = ("--num-users", "20000") if quick else ()
    fanout, sparse = "data.neighbor.num_neighbors=[5,3]", "model.sparse_embeddings=true"
    steps = ("--stage", "steps", *users, *(("--steps", "2") if quick else ()), "--threads", "1")
    runs = (
        Run("generate", "scale.py", ("--stage", "generate", *users)),
        Run("epoch", "scale.py", ("--stage", "epoch", *users,
                                  *(("--train-edges", "20000") if quick else ()),
                                  "--threads", "1", fanout, sparse),
            env={"OMP_NUM_THREADS": "1"}),
        Run("steps, untrimmed", "scale.py", (*steps, "--untrimmed", fanout)),
        Run("steps, trimmed", "scale.py", (*steps, fanout)),
        Run("steps, sparse ID tables", "scale.py", (*steps, fanout, sparse)),
    )
    return Bench("scale", runs, (
        Figure("generation, s", "generate", "seconds",
               target=Target("value", "<=", 180, "<= 3 min")),
        Figure("generation peak RSS, GiB", "generate", "peak_gib",
               target=Target("value", "<=", 8 * GIB_PER_GB, "<= 8 GB")),
        Figure("friend epoch: data setup, s", "epoch", "setup_seconds"),
        Figure("friend epoch, s", "epoch", "epoch_seconds"),
        Figure("friend epoch, seed edges/s", "epoch", "seed_edges_per_s"),
        Figure("friend epoch peak RSS, GiB", "epoch", "peak_gib",
               target=Target("value", "<", 12 * GIB_PER_GB, "< 12 GB")),
        Figure("friend step, untrimmed, s", "steps, untrimmed", "step_s"),
        Figure("friend step, trimmed, s (ref: untrimmed)", "steps, trimmed", "step_s",
               "step_s", ref_run="steps, untrimmed", faster=True),
        Figure("friend step, + sparse ID tables, s (ref: trimmed)", "steps, sparse ID tables",
               "step_s", "step_s", ref_run="steps, trimmed", faster=True),
    ))


def text_bench(quick: bool, ref: Reference) -> Bench:
    # A fresh cache folder, so the MiniLM figure is a cold encode as in the docs.
    args = ("--json", "--corpus", "umsab_english", "--cache-dir", "{tmp}", "--repeats",
            *(("1", "--limit", "200") if quick else ("3",)))
    run, base = "featurizers", "corpora.umsab_english"
    return Bench("text", (Run(run, "text.py", args),), (
        Figure("hashed_bow encode, texts/s", run, f"{base}.hashed_bow encode.texts_per_s"),
        Figure("MiniLM cold encode, texts/s", run,
               f"{base}.sentence_transformer encode.texts_per_s"),
        Figure("MiniLM cache read, texts/s", run,
               f"{base}.sentence_transformer cache read.texts_per_s"),
    ))


def memory_bench(quick: bool, ref: Reference) -> Bench:
    run = "peak memory"
    args = ("--json", *(("--num-users", "20000") if quick else ()))
    return Bench("memory", (Run(run, "memory.py", args),), (
        Figure("users", run, "num_users"),
        Figure("peak RSS, GiB", run, "peak_gib",
               target=Target("value", "<=", 8, "<= 8 GiB at 1M users")),
        Figure("wall, s", run, "wall_s"),
        Figure("peak RSS by phase, GiB:", run, "phases.*"),
    ))


def recommend_bench(quick: bool, ref: Reference) -> Bench:
    # docs/recommend.md: --lean (the graph's users and friends, fixed user vectors).
    size = ("--users", "50000", "--plain-queries", "1024", "--reason-pairs", "0") if quick \
        else ()
    run = "top-20 friends for every user"
    return Bench("recommend", (Run(run, "recommend.py", ("--lean", "--json", *size)),), (
        Figure("exact top-20, all users, s (ref: float32 product + top-k)", run,
               "exact_all_users_seconds", "plain_all_users_seconds", faster=True,
               target=Target("value", "<=", 300, "<= 5 min at 1M users")),
        Figure("exact lists: share of ids as the float32 path's", run,
               "exact_same_ids_as_plain"),
        Figure("peak RSS of the run, GiB", run, "peak_rss_gib",
               target=Target("value", "<=", 8, "<= 8 GiB")),
        Figure("faiss IVF top-20, all users, s", run, "faiss_seconds"),
        Figure("faiss recall@20 against exact", run, "faiss_recall@20"),
    ))


BENCHES: dict[str, Callable[[bool, Reference], Bench]] = {
    "main": main_bench, "gae": gae_bench, "heuristics": heuristics_bench,
    "sampler": sampler_bench, "contention": contention_bench, "retrieval": retrieval_bench,
    "scale": scale_bench, "text": text_bench, "memory": memory_bench,
    "recommend": recommend_bench,
}
NEEDS_REFERENCE = {"sampler", "contention"}


def find_reference(given: str | None) -> Reference:
    python = given or sys.executable
    try:
        found = subprocess.run([python, "-c", HAS_COMPILED], capture_output=True).returncode == 0
    except OSError:
        found = False
    if found:
        return Reference(python)
    if given:  # asked for and not usable: the figures asked for are missing, a failure
        return Reference(None, ("failed", f"neither torch-sparse nor pyg-lib importable in "
                                          f"{given}"))
    return Reference(None, ("skipped", "torch-sparse not installed (pass --reference-python)"))


# --- running -----------------------------------------------------------------------------


def error_line(stderr: str, returncode: int) -> str:
    """The first line of the error: the exception line after the last traceback, else the
    last line (where ``sys.exit`` messages and argparse errors go), else the exit status."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    marker = "Traceback (most recent call last):"
    if marker in lines:
        start = len(lines) - lines[::-1].index(marker)
        # Frames are indented; the exception's own line is the first that is not.
        tail = [line for line in lines[start:] if not line.startswith((" ", "\t"))]
        if tail:
            return tail[0][:300]
    return lines[-1].strip()[:300] if lines else f"exit status {returncode}"


def parse_output(stdout: str, stderr: str, returncode: int) -> dict:
    """A run's result from its output: ``ok`` with the last JSON line, or ``failed``."""
    if returncode:
        return {"status": "failed", "error": error_line(stderr, returncode)}
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if not lines:
        last = stdout.strip().splitlines()[-1:] or ["nothing"]
        return {"status": "failed", "error": f"printed no JSON line (last line: {last[0]})"}
    try:
        return {"status": "ok", "json": json.loads(lines[-1])}
    except json.JSONDecodeError as e:
        return {"status": "failed", "error": f"its JSON line does not parse: {e}"}


def run_process(run: Run) -> dict:
    """Runs one benchmark process; its output is echoed to stderr as it comes."""
    script = HERE / run.script
    if not script.exists():
        return {"status": "skipped", "error": f"scripts/bench/{run.script} does not exist yet"}
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryFile("w+") as err:
        argv = [run.python, str(script), *(a.replace("{tmp}", tmp) for a in run.args)]
        proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **run.env},
                                stdout=subprocess.PIPE, stderr=err, text=True)
        stdout = []
        for line in proc.stdout:  # a long benchmark shows its progress
            stdout.append(line)
            sys.stderr.write(f"    {line}")
        returncode = proc.wait()
        err.seek(0)
        return parse_output("".join(stdout), err.read(), returncode)


def execute(bench: Bench, runner: Callable[[Run], dict]) -> dict[str, dict]:
    results = {}
    for run in bench.runs:
        if run.blocked:
            results[run.label] = {"status": run.blocked[0], "error": run.blocked[1]}
            continue
        print(f"[{bench.name}] {run.label}: {run.script} {' '.join(run.args)}", file=sys.stderr,
              flush=True)
        start = time.perf_counter()
        results[run.label] = {**runner(run), "seconds": round(time.perf_counter() - start, 1)}
    return results


# --- the table ---------------------------------------------------------------------------


def lookup(data, key: str):
    for part in key.split("."):
        data = data[part]
    return data


def fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def ratio_of(value, ref, faster: bool) -> float | None:
    if not all(isinstance(v, int | float) for v in (value, ref)):
        return None
    num, den = (ref, value) if faster else (value, ref)
    return num / den if den else None


def met(target: Target | None, value, ratio: float | None, quick: bool) -> str:
    if target is None:
        return "—"
    if target.on == "value" and quick:
        return "n/a (quick)"  # absolute figures at quick sizes say nothing about the target
    operand = value if target.on == "value" else ratio
    if not isinstance(operand, int | float):
        return "—"
    return "yes" if OPS[target.op](operand, target.bound) else "no"


def row(bench: str, figure: str, value: str, status: str = "ok", reference: str = "—",
        ratio: str = "—", target: str = "—", met: str = "—") -> dict:
    return {"benchmark": bench, "figure": figure, "value": value, "reference": reference,
            "ratio": ratio, "target": target, "met": met, "status": status}


def reference_of(fig: Figure, results: dict[str, dict]) -> tuple[object, str | None]:
    """The reference value and its cell; the cell is None when its key is missing."""
    if fig.ref is None:
        return None, "—"
    res = results[fig.ref_run or fig.run]
    if res["status"] != "ok":
        return None, f"{res['status']}: {res['error']}"
    try:
        value = lookup(res["json"], fig.ref)
    except (KeyError, TypeError):
        return None, None
    return value, fmt(value)


def figure_rows(bench: str, fig: Figure, results: dict[str, dict], quick: bool) -> list[dict]:
    data = results[fig.run]["json"]
    try:
        keys = ([(f"{fig.name} {k}", f"{fig.key[:-2]}.{k}") for k in lookup(data, fig.key[:-2])]
                if fig.key.endswith(".*") else [(fig.name, fig.key)])
        items = [(name, lookup(data, key)) for name, key in keys]
    except (KeyError, TypeError):
        return [row(bench, fig.name, f"failed: {fig.key} missing from the output", "failed")]
    ref, ref_cell = reference_of(fig, results)
    if ref_cell is None:
        return [row(bench, fig.name, f"failed: {fig.ref} missing from the output", "failed")]
    rows = []
    for name, value in items:
        ratio = ratio_of(value, ref, fig.faster)
        ratio_cell = "—" if ratio is None else fmt(ratio) + ("x faster" if fig.faster else "x")
        rows.append(row(bench, name, fmt(value), reference=ref_cell, ratio=ratio_cell,
                        target=fig.target.text if fig.target else "—",
                        met=met(fig.target, value, ratio, quick)))
    return rows


def bench_rows(bench: Bench, results: dict[str, dict], quick: bool) -> list[dict]:
    """One row per figure of the runs that worked, one per run that failed or was skipped."""
    rows = [row(bench.name, run.label, f"{res['status']}: {res['error']}", res["status"])
            for run in bench.runs if (res := results[run.label])["status"] != "ok"]
    for fig in bench.figures:
        if results[fig.run]["status"] == "ok":
            rows += figure_rows(bench.name, fig, results, quick)
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r[c].replace("|", "\\|") for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def header(quick: bool, load: tuple[float, float, float], seconds: float) -> str:
    mode = ("quick settings: small sizes, NOT the docs' figures; targets on absolute values "
            "are not checked" if quick else "the docs' settings")
    return (f"graphrec benchmarks, {mode}\n{os.cpu_count()} CPUs, load average at the start "
            f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}, {seconds / 60:.1f} min in all; "
            "ratio = value / reference, or reference / value where it says faster\n")


# --- the command -------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHES),
                        help=f"comma-separated benchmarks, of {', '.join(BENCHES)}")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes: a few minutes in all, not the docs' figures")
    parser.add_argument("--reference-python", default=None,
                        help="a Python with torch-sparse or pyg-lib, for the compiled sampler")
    parser.add_argument("--out", default=None, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(args.only) - set(BENCHES))
    if unknown or not args.only:
        parser.error(f"--only: unknown {unknown}; choose from {', '.join(BENCHES)}")
    return args


def main(argv: list[str] | None = None, runner: Callable[[Run], dict] = run_process) -> int:
    args = parse_args(argv)
    load, start = os.getloadavg(), time.perf_counter()
    # Probing for torch-sparse imports PyG: only when a benchmark needs it.
    ref = (find_reference(args.reference_python) if NEEDS_REFERENCE & set(args.only)
           else Reference(None))
    benches = [BENCHES[name](args.quick, ref) for name in args.only]
    results = {bench.name: execute(bench, runner) for bench in benches}
    rows = [r for bench in benches for r in bench_rows(bench, results[bench.name], args.quick)]
    print(header(args.quick, load, time.perf_counter() - start) + "\n" + table(rows))
    failed = [r for r in rows if r["status"] == "failed"]
    if failed:
        names = sorted({r["benchmark"] for r in failed})
        print(f"\n{len(failed)} row(s) failed, in: {', '.join(names)}")
    if args.out:
        Path(args.out).write_text(json.dumps(
            {"quick": args.quick, "cpus": os.cpu_count(), "load_average": load,
             "results": results, "rows": rows}, indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
