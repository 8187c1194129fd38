"""The README and docs/ stay true to the code: every listed command composes with the real
configs, the cheat sheet names every experiment and group choice, links resolve, and no page
holds a path of one particular machine."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf, open_dict

from graphrec.runtime import CONFIG_DIR

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
# design.md draws the data flow of a run (`python scripts/train.py <overrides>`): no commands.
COMMAND_PAGES = [p for p in PAGES if p.name != "design.md"]
CONFIGS = Path(CONFIG_DIR)
MACHINE_PATHS = ("/work/", "/root/", "/home/", "/tmp/")
PENDING = "<!-- pending:"
SCRIPTS = {"scripts/train.py": "train", "scripts/evaluate.py": "eval"}
MAX_README_LINES = 250
OVERRIDES = OverridesParser.create()


def visible_lines(text: str) -> list[str]:
    """The lines of a page without the pending placeholders: each ``<!-- pending: ... -->``
    line and the line right below it describe a feature that is not in this tree yet."""
    lines, skip = [], False
    for line in text.splitlines():
        if line.lstrip().startswith(PENDING):
            skip = True
            continue
        if skip:
            skip = False
            continue
        lines.append(line)
    return lines


def commands(text: str) -> list[tuple[str, str]]:
    """``(script, argument text)`` of every ``python scripts/<train|evaluate>.py`` command in a
    Markdown page: lines of fenced code blocks (``\\`` continuations joined) and inline code
    spans of the prose."""
    found, prose, block, in_fence = [], [], [], False
    for line in visible_lines(text):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        (block if in_fence else prose).append(line)
    code = re.sub(r"\s*\\\n\s*", " ", "\n".join(block)).splitlines()
    spans = re.findall(r"`([^`]+)`", "\n".join(prose))
    for snippet in code + [s.replace("\n", " ") for s in spans]:
        if snippet.lstrip().startswith("$ "):
            continue  # a transcript: the Errors section shows failing commands on purpose
        for script in SCRIPTS:
            at = snippet.find(f"python {script}")
            if at >= 0:
                found.append((script, snippet[at + len(f"python {script}"):].strip()))
    return found


def _split_top_level(value: str) -> list[str]:
    """Splits a sweep value on commas outside brackets, braces, parentheses and quotes."""
    parts, depth, quote, cur = [], 0, None, ""
    for ch in value:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        cur += ch
    return [*parts, cur]


def first_run(args: str) -> list[str]:
    """The overrides of the first run a command starts: ``-m`` sweeps (``a=x,y``,
    ``seed='range(10)'``) compose their first value."""
    overrides = []
    # Placeholders the reader fills in (`<run>`, `<timestamp>`) stand for a plain name.
    args = re.sub(r"<[\w|]+>", "x", args)
    for token in shlex.split(args, comments=True):
        if token in ("-m", "--multirun"):
            continue
        if token.startswith("~"):  # a deletion override (~model.encoder)
            overrides.append(token)
            continue
        assert "=" in token, f"not a Hydra override: {token!r} in {args!r}"
        key, value = token.split("=", 1)
        sweep = re.fullmatch(r"range\((\d+)(?:,\s*\d+)*\)", value)
        if sweep:
            start = re.findall(r"\d+", value)
            value = start[0] if len(start) > 1 else "0"
        else:
            value = _split_top_level(value)[0]
        overrides.append(f"{key}={value}")
    return overrides


def compose_command(script: str, args: str):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name=SCRIPTS[script], overrides=first_run(args),
                      return_hydra_config=True)
    # Resolve everything a run reads (outside Hydra's own node), as train(cfg) does: a bad
    # interpolation in an experiment or an override fails here, not after data loading.
    with open_dict(cfg):
        del cfg["hydra"]
        cfg.paths.output_dir = "run"
    return OmegaConf.to_container(cfg, resolve=True)


ALL_COMMANDS = [(page, script, args) for page in COMMAND_PAGES
                for script, args in commands(page.read_text())]


def test_pages_list_commands():
    # The parser must keep finding the commands: a change to it (or to the pages) that finds
    # none would make the composition test below pass vacuously.
    readme = [args for page, script, args in ALL_COMMANDS if page == README]
    assert len(readme) >= 20
    assert {page.name for page, _, _ in ALL_COMMANDS} >= {
        "README.md", "results.md", "reproductions.md", "heuristics.md", "evaluation.md",
        "sentiment.md", "scale.md", "sweeps.md"}


@pytest.mark.parametrize(
    ("page", "script", "args"), ALL_COMMANDS,
    ids=[f"{p.name}:{s.split('/')[-1]} {a}"[:120] for p, s, a in ALL_COMMANDS])
def test_command_composes(page, script, args):
    cfg = OmegaConf.create(compose_command(script, args))
    for override in OVERRIDES.parse_overrides(first_run(args)):
        key = override.key_or_group
        if override.is_delete():
            assert OmegaConf.select(cfg, key, default="<absent>") == "<absent>", key
            continue
        if "/" in key or key.startswith("hydra") \
                or "." not in key and key not in cfg or OmegaConf.is_dict(cfg.get(key)):
            continue  # group choices (data=..., experiment=...): composing proves they exist
        # The value a command sets is the value the run gets: an experiment or a later
        # default cannot silently take it back.
        got = OmegaConf.select(cfg, key, default="<absent>")
        assert got == override.value(), f"{page.name}: {override.input_line} gives {key}={got}"


def test_first_run_parses_sweeps():
    assert first_run("-m model.score=cn,jaccard task=[friend,career] seed='range(10)'") == [
        "model.score=cn", "task=[friend,career]", "seed=0"]
    assert first_run("'model.options={beta: 0.01, eps: 1}' seed=range(3,6)  # note") == [
        "model.options={beta: 0.01, eps: 1}", "seed=3"]
    assert first_run("ckpt_path=<run>/checkpoints/best.ckpt") == [
        "ckpt_path=x/checkpoints/best.ckpt"]


def test_pending_placeholders_are_skipped():
    text = ("`python scripts/train.py debug=fast`\n"
            "<!-- pending: a feature -->\n`python scripts/train.py model/decoder=later`\n"
            "```bash\n<!-- pending: x -->\npython scripts/train.py data=later\n"
            "$ python scripts/train.py model/encoder=gin\n"
            "python scripts/train.py -m seed=0,1 \\\n    logger=csv\n```\n")
    assert commands(text) == [("scripts/train.py", "-m seed=0,1 logger=csv"),
                              ("scripts/train.py", "debug=fast")]


def test_unknown_option_does_not_compose():
    # The composition test is only worth something if a stale command fails it.
    with pytest.raises(Exception, match="gin"):
        compose_command("scripts/train.py", "model/encoder=gin")
    with pytest.raises(Exception, match="no_such_key"):
        compose_command("scripts/train.py", "data.no_such_key=1")


def test_readme_is_short():
    assert len(README.read_text().splitlines()) <= MAX_README_LINES


def test_cheat_sheet_names_every_experiment_and_group_choice():
    text = "\n".join(visible_lines(README.read_text()))
    experiments = {a for page, s, args in ALL_COMMANDS if page == README
                   and s == "scripts/train.py"
                   for a in first_run(args) if a.startswith("experiment=")}
    missing = [p.stem for p in (CONFIGS / "experiment").glob("*.yaml")
               if f"experiment={p.stem}" not in experiments]
    assert not missing, f"experiments without a README command: {missing}"
    groups = [d for d in CONFIGS.iterdir() if d.is_dir() and d.name != "experiment"]
    groups += [d for d in (CONFIGS / "model").iterdir() if d.is_dir()]
    groups += [d for d in (CONFIGS / "hydra").iterdir() if d.is_dir()]
    absent = []
    for group in groups:
        name = group.relative_to(CONFIGS).as_posix()
        for option in (p.stem for p in group.glob("*.yaml")):
            listed = (f"{name}={option}" in text if name != "task"
                      else re.search(rf"task=\[[^\]]*\b{option}\b", text))
            if not listed:
                absent.append(f"{name}={option}")
    assert not absent, f"group choices missing from the README cheat sheet: {absent}"


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lowercase, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_links_resolve(page):
    for target in re.findall(r"\]\(([^)\s]+)\)", "\n".join(visible_lines(page.read_text()))):
        if re.match(r"[a-z]+://", target):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        assert file.is_file(), f"{page.name} links to {target}, which does not exist"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", file.read_text(), flags=re.M)
            assert anchor in {_slug(h) for h in headings}, f"{page.name}: no heading #{anchor}"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_no_machine_paths(page):
    text = page.read_text()
    found = [p for p in MACHINE_PATHS if p in text]
    assert not found, (f"{page.name} holds machine paths {found}; "
                       "use /path/to/data or GRAPHREC_DATA_DIR")
