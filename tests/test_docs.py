"""The docs cannot drift: every `evaluator ...` command in the fenced blocks of README.md and
docs/*.md is extracted; the cheap ones run against a small database built here (and must
succeed), and every command's flags must be ones its subcommand has (the expensive `run`
commands are parsed, not run). README.md stays a front page."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from evaluator.cli import build_parser, main
from tests.cli.demo_db import make_demo_db

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Subcommands that only read (or, rescore, rewrite a copy of) the database: run for real.
CHEAP = {"leaderboard", "compare", "sql", "errors", "show", "runs", "report", "models", "rescore"}
# Placeholders the docs use, and what they stand for in the test database.
PLACEHOLDERS = {"RUN_ID": "demo", "RUN": "demo", "RUN_BEFORE": "finetune", "RUN_AFTER": "demo",
                "accepted": "finetune", "$CI_COMMIT_SHORT_SHA": "demo", "SAMPLE_ID": "espeak-004",
                "ID": "espeak-004", "20261128-041314-833e": "demo", "base": "demo", "finetuned": "finetune"}
SHELL_ENDS = {">", ">>", "|", "&&", ";", "2>&1", "<"}
FENCE = re.compile(r"^```([\w-]*)\s*$")


def _blocks(text: str) -> list[list[str]]:
    blocks, current = [], None
    for line in text.splitlines():
        if FENCE.match(line.strip()):
            if current is None:
                current = []
            else:
                blocks.append(current)
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def _logical_lines(lines: list[str]) -> list[str]:
    """Lines with shell continuations (``\\``) and YAML continuation lines (``--flag`` on the
    next line) joined."""
    out: list[str] = []
    joining = False
    for line in lines:
        stripped = line.strip()
        if out and (joining or stripped.startswith("--")):
            out[-1] += " " + stripped.rstrip("\\").strip()
        else:
            out.append(stripped.rstrip("\\").strip())
        joining = stripped.endswith("\\")
    return out


def doc_commands() -> list[tuple[str, list[str]]]:
    """(page, argv after `evaluator`) for every evaluator command in a fenced block."""
    subcommands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    found = []
    for page in PAGES:
        for block in _blocks(page.read_text()):
            for line in _logical_lines(block):
                line = re.sub(r"^(\$|-|run:)\s+", "", line)
                if "evaluator" not in line:
                    continue
                try:
                    tokens = shlex.split(line, comments=True)
                except ValueError:
                    continue
                for i, token in enumerate(tokens[:-1]):
                    if token == "evaluator" and tokens[i + 1] in subcommands:
                        argv = tokens[i + 1:]
                        ends = [j for j, t in enumerate(argv) if t in SHELL_ENDS or t.startswith(">")]
                        found.append((page.name, argv[: ends[0]] if ends else argv))
                        break
    return found


COMMANDS = doc_commands()


def _ids() -> list[str]:
    return [f"{page}: {' '.join(argv)}"[:90] for page, argv in COMMANDS]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return make_demo_db(str(tmp_path_factory.mktemp("docs") / "docs.duckdb"))


def test_the_docs_have_commands() -> None:
    pages = {page for page, _ in COMMANDS}
    assert {"README.md", "evaluating.md", "comparing.md", "ci.md", "database.md", "cluster.md"} <= pages
    assert len(COMMANDS) > 40
    assert {argv[0] for _, argv in COMMANDS} >= CHEAP - {"rescore"} | {"run"}


@pytest.mark.parametrize(("page", "argv"), COMMANDS, ids=_ids())
def test_every_flag_exists(page: str, argv: list[str]) -> None:
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[argv[0]]  # type: ignore[union-attr]
    known = {s for action in sub._actions for s in action.option_strings}
    flags = {t.split("=", 1)[0] for t in argv[1:] if t.startswith("-") and not re.fullmatch(r"-\d.*", t)}
    assert flags <= known, f"{page}: `evaluator {' '.join(argv)}` uses unknown flags {sorted(flags - known)}"
    parser.parse_args(argv)  # types, choices and required arguments too (exits 2 on a mistake)


@pytest.mark.parametrize(("page", "argv"), [c for c in COMMANDS if c[1][0] in CHEAP],
                         ids=[i for i, c in zip(_ids(), COMMANDS, strict=True) if c[1][0] in CHEAP])
def test_cheap_commands_run(page: str, argv: list[str], db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    """Run against the test database: every --db points at it (rescore: at a copy), the
    placeholders at its runs and samples; exit 0, or 1 for a CI gate that finds a regression."""
    target = db
    if argv[0] == "rescore":
        target = str(tmp_path / "copy.duckdb")
        shutil.copy(db, target)
    args = [PLACEHOLDERS.get(t, t) for t in argv]
    if "--db" in args:
        args[args.index("--db") + 1] = target
    elif argv[0] != "models":
        args += ["--db", target]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "100")
    code = main(args)
    out = capsys.readouterr().out
    gate = "--fail-if-worse" in args or "--fail-if-significant" in args
    assert code in ((0, 1) if gate else (0,)), f"{page}: `evaluator {' '.join(argv)}` exited {code}"
    assert out.strip() or argv[0] == "rescore"  # rescore only logs
    if "--format" not in args and "--wide" not in args and argv[0] in ("leaderboard", "compare", "models", "runs"):
        assert max(map(len, out.splitlines())) <= 100


def test_readme_is_a_front_page() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 250
    assert "make demo" in text and "make test" in text
    for page in ("evaluating", "long-form", "comparing", "statistics", "languages", "report", "database", "cluster",
                 "adding-a-backend", "development", "python-api", "ci"):
        assert f"docs/{page}.md" in text, f"README.md does not link docs/{page}.md"


def test_links_between_pages_resolve() -> None:
    missing = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+\.(?:md|ipynb|png))(?:#[^)]*)?\)", page.read_text()):
            if target.startswith("http"):
                continue
            if not (page.parent / target).exists():
                missing.append(f"{page.name} -> {target}")
    # pages other helpers write (languages, statistics, datasets, suites, model families, architecture)
    later = {"languages.md", "statistics.md", "datasets.md", "suites.md", "model-families.md", "architecture.md"}
    assert [m for m in missing if Path(m.split(" -> ")[1]).name not in later] == []


# ------------------------------------------------------------------- repository paths the docs name

TOP_FOLDERS = ("evaluator", "tests", "bench", "docs", "scripts", "examples", "jobs", "docker")
SUBPACKAGES = ("cli", "data", "scoring", "models", "results", "run", "report")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
FENCED = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
REPO_PATH = re.compile(rf"(?<![\w./~$-])(?:{'|'.join(TOP_FOLDERS)})/[\w./*<>{{}}-]*")
PACKAGE_PATH = re.compile(rf"(?:{'|'.join(SUBPACKAGES)})/[\w/]*(?:\.py)?")
MODULE_NAME = re.compile(r"(?<![\w.])evaluator(?:\.\w+)+")


def named_paths(text: str) -> list[str]:
    """What a page names in the repository: paths under the top-level folders in code spans and
    fenced blocks (of ``tests/x.py::test`` the file), package paths
    (``run/driver.py``, read under evaluator/) and dotted names (``evaluator.results.store``)
    in code spans, and relative link targets (kept as ``link:`` + target)."""
    spans = CODE_SPAN.findall(FENCED.sub("", text))
    names = [m.rstrip(".,:;") for chunk in [*spans, *FENCED.findall(text)] for m in REPO_PATH.findall(chunk)]
    names += [f"evaluator/{s}" for s in spans if PACKAGE_PATH.fullmatch(s)]
    names += [m for s in spans for m in MODULE_NAME.findall(s)]
    names += [f"link:{t}" for t in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text) if not re.match(r"\w+:", t)]
    return names


def _exists(page: Path, name: str) -> bool:
    if name.startswith("link:"):
        return (page.parent / name[5:]).exists()
    if name.startswith("evaluator."):  # a module, or up to two attributes named in its source
        parts = name.split(".")
        for cut in range(len(parts), max(0, len(parts) - 3), -1):
            base = ROOT.joinpath(*parts[:cut])
            source = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
            if source.exists():
                text = source.read_text()
                return all(re.search(rf"\b{re.escape(attr)}\b", text) for attr in parts[cut:])
        return False
    stem = re.split(r"[<{]", name, maxsplit=1)[0]  # a placeholder: what comes before it exists
    if stem != name:
        return (ROOT / stem.rsplit("/", 1)[0]).exists()
    return any(ROOT.glob(name)) if "*" in name else (ROOT / name).exists()


def test_named_paths_are_recognised() -> None:
    text = ("Run `tests/run/test_planning.py::test_plan_models -x` and `python bench/x.py --n 3`; see "
            "`run/driver.py`, `evaluator.results.store.Store`, [a page](comparing.md#gate) and "
            "[the web](https://example.org/a.md); not `results/demo.duckdb` or `~/evaluator/x`.\n"
            "```\nevaluator run --config jobs/examples/sample.yaml\n```\n")
    assert named_paths(text) == ["tests/run/test_planning.py", "bench/x.py",
                                 "jobs/examples/sample.yaml", "evaluator/run/driver.py",
                                 "evaluator.results.store.Store", "link:comparing.md"]
    page = ROOT / "docs" / "x.md"
    assert _exists(page, "tests/run/test_planning.py") and _exists(page, "evaluator/run/driver.py")
    assert _exists(page, "evaluator.results.store.Store") and _exists(page, "link:comparing.md")
    assert _exists(page, "evaluator/results/migrations/*.sql") and _exists(page, "evaluator/data/suites/<name>.yaml")
    for missing in ("tests/test_scheduler.py", "evaluator/run/actor.py", "evaluator.results.nowhere",
                    "evaluator.results.store.NoSuchThing", "link:nowhere.md", "bench/*.nothing"):
        assert not _exists(page, missing), missing


def test_every_repository_path_the_docs_name_exists() -> None:
    missing = [f"{page.name}: {name}" for page in PAGES for name in named_paths(page.read_text())
               if not _exists(page, name)]
    assert missing == [], "the docs name paths that do not exist (moved or renamed?)"


def test_database_page_gives_every_key_and_view() -> None:
    """docs/database.md gives each row table's primary key as the records declare it, and names
    every view of evaluator/results/views.sql."""
    from evaluator.results.records import ChunkRow, LostShard, ResultRow, RunModel

    text = re.sub(r"\s+", " ", (ROOT / "docs" / "database.md").read_text())
    for record in (ResultRow, ChunkRow, RunModel, LostShard):
        keys = re.findall(rf"`{record.TABLE}`[^(]*?, (?:one row )?per \(([^)]*)\)", text)
        assert keys and keys[0] == ", ".join(record.KEY), f"docs/database.md: `{record.TABLE}` key {keys}"
    views = re.findall(r"CREATE OR REPLACE VIEW (\w+)", (ROOT / "evaluator" / "results" / "views.sql").read_text())
    assert len(views) >= 5 and [v for v in views if f"`{v}` (view)" not in text] == []
