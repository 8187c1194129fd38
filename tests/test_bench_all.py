"""``scripts/bench/all.py``: the table built from benchmark results, failures, ``--only``.

No benchmark runs here: a fake runner hands back the JSON a benchmark would print, and the
one real process is a two-line script written to ``tmp_path``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "scripts" / "bench"


def _load_all():
    spec = importlib.util.spec_from_file_location("bench_all", BENCH_DIR / "all.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_all"] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


bench_all = _load_all()

GAE = {"graphrec": {"wall_ms": 15.0, "cpu_ms": 16.0, "test_auc": 0.91},
       "pyg": {"wall_ms": 37.5, "cpu_ms": 40.0, "test_auc": 0.90}}
RETRIEVAL = {"retrieval": {"topk_s": 420.0, "bare_s": 565.0, "topk_peak_extra_gib": 2.5,
                           "bare_peak_extra_gib": 0.62}}
MEMORY = {"num_users": 1_000_000, "peak_gib": 7.9, "wall_s": 900.0,
          "phases": {"setup": 5.1, "fit": 6.0, "validate": 7.9, "test": 7.5}}


class FakeRunner:
    """Hands back canned results by script name and records what was asked for."""

    def __init__(self, by_script: dict[str, dict]):
        self.by_script, self.calls = by_script, []

    def __call__(self, run):
        self.calls.append(run)
        return self.by_script[run.script]


def ok(payload: dict) -> dict:
    return {"status": "ok", "json": payload}


def run_main(capsys, argv, runner):
    code = bench_all.main(argv, runner=runner)
    return code, capsys.readouterr().out


def table_rows(out: str) -> dict[str, list[str]]:
    """Figure -> its cells (benchmark first), from the printed Markdown table."""
    rows = {}
    for line in out.splitlines():
        if line.startswith("| ") and not line.startswith("| benchmark"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows[cells[1]] = cells
    return rows


def test_table_has_values_references_ratios_and_targets(capsys):
    runner = FakeRunner({"gae.py": ok(GAE), "retrieval.py": ok(RETRIEVAL)})
    code, out = run_main(capsys, ["--only", "gae,retrieval"], runner)
    rows = table_rows(out)
    assert code == 0
    wall = rows["Cora GAE ms / epoch, wall (ref: PyG)"]
    assert wall[:5] == ["gae", wall[1], "15", "37.5", "2.5x faster"]  # PyG / graphrec
    ranking = rows["top-100 ranking with exclusions, s (ref: bare matmul + top-k)"]
    assert ranking[2:] == ["420", "565", "0.743x", "<= 1.5x", "yes"]  # graphrec / bare
    memory = rows["peak extra RSS, GiB (ref: bare)"]
    assert memory[4:] == ["4.03x", "< 2 GB", "no"]  # 2.5 GiB is over 2 GB


def test_quick_checks_ratio_targets_only_and_says_so(capsys):
    runner = FakeRunner({"retrieval.py": ok(RETRIEVAL)})
    code, out = run_main(capsys, ["--only", "retrieval", "--quick"], runner)
    rows = table_rows(out)
    assert "NOT the docs' figures" in out
    assert rows["peak extra RSS, GiB (ref: bare)"][-1] == "n/a (quick)"
    assert rows["top-100 ranking with exclusions, s (ref: bare matmul + top-k)"][-1] == "yes"
    assert "--repeats" in runner.calls[0].args and "2000" in runner.calls[0].args


def test_failed_benchmark_gives_a_failed_row_the_others_run_and_exit_is_nonzero(capsys):
    failed = {"status": "failed", "error": "RuntimeError: out of memory"}
    runner = FakeRunner({"gae.py": failed, "retrieval.py": ok(RETRIEVAL)})
    code, out = run_main(capsys, ["--only", "gae,retrieval"], runner)
    rows = table_rows(out)
    assert code == 1
    assert [run.script for run in runner.calls] == ["gae.py", "retrieval.py"]
    assert rows["graphrec vs PyG"][2] == "failed: RuntimeError: out of memory"
    assert rows["top-100 ranking with exclusions, s (ref: bare matmul + top-k)"][2] == "420"
    assert "failed, in: gae" in out


def test_a_key_missing_from_the_output_fails(capsys):
    runner = FakeRunner({"gae.py": ok({"graphrec": {"wall_ms": 15.0}})})
    code, out = run_main(capsys, ["--only", "gae"], runner)
    assert code == 1
    assert "failed: pyg.wall_ms missing from the output" in out


def test_only_selects_and_keeps_the_given_order(capsys):
    runner = FakeRunner({"gae.py": ok(GAE), "main.py": ok({"wall_s": 45.2, "peak_gib": 1.24})})
    code, out = run_main(capsys, ["--only", "main,gae"], runner)
    assert code == 0
    assert [run.script for run in runner.calls] == ["main.py", "gae.py"]
    assert {cells[0] for cells in table_rows(out).values()} == {"main", "gae"}
    with pytest.raises(SystemExit):
        bench_all.parse_args(["--only", "gae,nope"])


def test_memory_rows_expand_phases_and_check_the_target(capsys):
    runner = FakeRunner({"memory.py": ok({**MEMORY, "peak_gib": 8.4})})
    code, out = run_main(capsys, ["--only", "memory"], runner)
    rows = table_rows(out)
    assert code == 0
    assert rows["peak RSS, GiB"][-2:] == ["<= 8 GiB at 1M users", "no"]
    assert [rows[f"peak RSS by phase, GiB: {p}"][2] for p in MEMORY["phases"]] == [
        "5.1", "6", "7.9", "7.5"]
    run_main(capsys, ["--only", "memory", "--quick"], runner)
    assert runner.calls[-1].args == ("--json", "--num-users", "20000")


def test_without_torch_sparse_the_compiled_rows_are_skipped_not_failed(capsys, monkeypatch):
    reason = ("skipped", "torch-sparse not installed (pass --reference-python)")
    monkeypatch.setattr(bench_all, "find_reference",
                        lambda given: bench_all.Reference(None, reason))
    ours = ok({"batches_per_s": 12.3, "edges_per_s": 1_960_000, "setup_s": 0.91})
    runner = FakeRunner({"sampler.py": ours})
    code, out = run_main(capsys, ["--only", "sampler"], runner)
    rows = table_rows(out)
    assert code == 0
    assert [run.args[1] for run in runner.calls] == ["torch"]  # the compiled one never starts
    assert rows["compiled sampler"][2] == f"skipped: {reason[1]}"
    graphrec = rows["NeighborLoader batches/s, 1 thread (ref: compiled)"]
    assert graphrec[2:] == ["12.3", f"skipped: {reason[1]}", "—", ">= 8 batches/s", "yes"]


def test_reference_python_is_passed_to_both_sampler_benchmarks():
    ref = bench_all.Reference("ts-env/bin/python")
    compiled = bench_all.sampler_bench(False, ref).runs[1]
    contention = bench_all.contention_bench(False, ref).runs[0]
    assert compiled.python == "ts-env/bin/python" and compiled.blocked is None
    assert contention.args[-2:] == ("--reference-python", "ts-env/bin/python")


def test_out_writes_the_results_as_json(capsys, tmp_path):
    runner = FakeRunner({"gae.py": ok(GAE)})
    run_main(capsys, ["--only", "gae", "--out", str(tmp_path / "r.json")], runner)
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["results"]["gae"]["graphrec vs PyG"]["json"] == GAE
    assert saved["rows"][0]["ratio"] == "2.5x faster"


def test_error_line_is_the_exception_else_the_last_line():
    traceback = ("warning: something\nTraceback (most recent call last):\n  File \"x.py\", "
                 "line 1, in <module>\n    f()\nValueError: bad size\n  more detail\n")
    assert bench_all.error_line(traceback, 1) == "ValueError: bad size"
    assert bench_all.error_line("usage: x\nx: error: unrecognized arguments: --y\n", 2) == (
        "x: error: unrecognized arguments: --y")
    assert bench_all.error_line("", -9) == "exit status -9"


def test_parse_output_takes_the_last_json_line():
    out = 'progress\n{"a": 1}\nmore\n{"a": 2}\ndone\n'
    assert bench_all.parse_output(out, "", 0) == {"status": "ok", "json": {"a": 2}}
    assert bench_all.parse_output("done\n", "", 0)["status"] == "failed"
    assert bench_all.parse_output(out, "Boom\n", 3) == {"status": "failed", "error": "Boom"}


def test_run_process_runs_a_script_with_its_env_and_a_temp_folder(tmp_path):
    script = tmp_path / "tiny.py"
    script.write_text("import json, os, sys\nprint('working')\n"
                      "print(json.dumps({'tmp': os.path.isdir(sys.argv[1]), "
                      "'env': os.environ['BENCH_X']}))\n")
    run = bench_all.Run("tiny", str(script), ("{tmp}",), env={"BENCH_X": "1"})
    assert bench_all.run_process(run) == {"status": "ok", "json": {"tmp": True, "env": "1"}}
    missing = bench_all.Run("gone", str(tmp_path / "gone.py"))
    assert bench_all.run_process(missing)["status"] == "skipped"


@pytest.mark.parametrize("quick", [False, True])
def test_every_script_run_exists_and_takes_the_flags_given(quick):
    ref = bench_all.Reference("python")
    for make in bench_all.BENCHES.values():
        for run in make(quick, ref).runs:
            if run.script == "memory.py":  # written separately; may not exist yet
                continue
            source = (BENCH_DIR / run.script).read_text()
            flags = {a.split("=")[0] for a in run.args if a.startswith("--")}
            declared = set(re.findall(r'add_argument\(\s*"(--[\w-]+)"', source))
            assert flags <= declared, (run.script, flags - declared)


def test_an_unusable_reference_python_fails_the_compiled_rows(tmp_path):
    ref = bench_all.find_reference(str(tmp_path / "no-python"))
    assert ref.python is None and ref.blocked[0] == "failed"
    assert bench_all.sampler_bench(True, ref).runs[1].blocked == ref.blocked


def test_recommend_rows_give_the_speed_up_over_float32_and_check_five_minutes(capsys):
    result = {"exact_all_users_seconds": 250.0, "plain_all_users_seconds": 5000.0,
              "exact_same_ids_as_plain": 1.0, "peak_rss_gib": 4.7, "faiss_seconds": 600.0,
              "faiss_recall@20": 0.58}
    runner = FakeRunner({"recommend.py": ok(result)})
    code, out = run_main(capsys, ["--only", "recommend"], runner)
    rows = table_rows(out)
    exact = rows["exact top-20, all users, s (ref: float32 product + top-k)"]
    assert exact[2:5] == ["250", "5,000", "20x faster"]
    assert exact[-2:] == ["<= 5 min at 1M users", "yes"]
    runner = FakeRunner({"recommend.py": ok({**result, "exact_all_users_seconds": 301.0})})
    _, out = run_main(capsys, ["--only", "recommend"], runner)
    assert table_rows(out)["exact top-20, all users, s (ref: float32 product + top-k)"][-1] \
        == "no"
