"""The package map holds: lower layers never import higher ones (lazy imports inside functions
included); no modules import each other in a cycle, counting ``if TYPE_CHECKING:`` imports and the
parent packages an import runs; every module imports first, in a fresh interpreter; run/plan
never imports run/execute. See docs/architecture.md."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "evaluator"

# Lowest first. A module may import its own layer and any layer below it.
LAYERS = ["shared", "data", "scoring", "models", "results", "run", "report", "cli", "api"]
SHARED = {"evaluator", "evaluator.errors", "evaluator.cache"}
# Compatibility re-exports for code outside the package (``from evaluator.backends import Backend``).
REEXPORTS = {"evaluator.backends": "models"}
MAX_LINES = 420
# `evaluator.evaluate` / `evaluator.open`: the package's module __getattr__ imports the API on first
# use (never at import time, which stays cheap).
LAZY_FACADE = {("evaluator", "evaluator.api")}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> str:
    if module in SHARED:
        return "shared"
    if module in REEXPORTS:
        return REEXPORTS[module]
    if module == "evaluator.api":
        return "api"
    return module.split(".")[1]


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported evaluator module, imported at module level) for each import in a file. Imports
    under ``if TYPE_CHECKING:`` count as module level: a type checker follows them, and a cycle
    through them becomes real the day one is moved out of the block."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    for node in tree.body:  # try/except and `if` at module level run at import
        if isinstance(node, ast.If | ast.Try):
            top |= {id(n) for n in ast.walk(node)}
    found = []
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names = [base]
            # `from evaluator.data import audio` imports the module evaluator.data.audio
            names += [f"{base}.{a.name}" for a in node.names
                      if (PACKAGE.parent / f"{base}.{a.name}".replace(".", "/")).with_suffix(".py").exists()]
        for name in names:
            if name == "evaluator" or name.startswith("evaluator."):
                found.append((name, id(node) in top))
    return found


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def test_no_import_from_a_lower_layer_into_a_higher_one() -> None:
    wrong = []
    for module, path in _modules().items():
        mine = LAYERS.index(_layer(module))
        for imported, top in _imports(path):
            if imported == "evaluator" or (module, imported) in LAZY_FACADE and not top:
                continue
            if LAYERS.index(_layer(imported)) > mine:
                wrong.append(f"{module} ({_layer(module)}) imports {imported} ({_layer(imported)})")
    assert not wrong, "\n".join(wrong)


def _runs(module: str, imported: str, modules: dict[str, Path]) -> set[str]:
    """The package modules an import of ``imported`` in ``module`` runs that ``module`` waits on:
    ``imported`` and its parent packages (``import a.b.c`` runs ``a``, ``a.b`` and ``a.b.c``), less
    the packages ``module`` sits in (they have started before it, whoever imports it)."""
    parts = imported.split(".")
    chain = {".".join(parts[:i]) for i in range(1, len(parts))}
    mine = {".".join(module.split(".")[:i]) for i in range(1, len(module.split(".")))}
    return ({imported} | (chain - mine)) & set(modules) - {module}


def _edges(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the package modules its module-level imports run (``from a.b import c`` where
    ``c`` is a submodule runs ``a.b`` as a parent package and ``a.b.c``, see :func:`_imports`)."""
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        graph[module] = set()
        for imported, top in _imports(path):
            if top:
                graph[module] |= _runs(module, imported, modules)
    return graph


def test_no_import_cycles() -> None:
    """No cycle at import time: TYPE_CHECKING imports and the parent packages an import runs
    count, a package's ``__init__`` importing its own submodules included."""
    graph = _edges(_modules())
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_the_cycle_check_sees_a_cycle_through_a_parent_package() -> None:
    """``p/__init__`` re-exporting ``p.a``, and ``p.a`` importing ``q.b`` whose package ``q``
    imports ``p``: a cycle only the parent-package edges show (the families <-> backends one)."""
    modules = {m: Path() for m in ("evaluator.p", "evaluator.p.a", "evaluator.q", "evaluator.q.b")}
    assert _runs("evaluator.p.a", "evaluator.q.b", modules) == {"evaluator.q", "evaluator.q.b"}
    assert _runs("evaluator.p.a", "evaluator.p.c", modules) == set()  # its own package has started
    assert _runs("evaluator.p.a", "evaluator.p", modules) == {"evaluator.p"}  # names from its __init__


def test_plan_never_imports_execute() -> None:
    """run/plan (config, devices, placement, cluster) knows nothing of run/execute, lazily or not."""
    wrong = [f"{module} imports {imported}" for module, path in _modules().items()
             if module.startswith("evaluator.run.plan")
             for imported, _ in _imports(path) if imported.startswith("evaluator.run.execute")]
    assert not wrong, "\n".join(wrong)


# Imports each module named on stdin first, in a fresh interpreter per module: the parent imports the
# heavy third-party libraries once and forks a child per module (the child has imported nothing of
# evaluator); ``__main__`` modules are imported without running as the program.
_FRESH_IMPORTS = """
import importlib, os, sys, traceback
for name in ("numpy",):
    try:
        importlib.import_module(name)
    except ImportError:
        pass
assert not any(m == "evaluator" or m.startswith("evaluator.") for m in sys.modules)
failed = []
for module in sys.stdin.read().split():
    pid = os.fork()
    if pid == 0:
        try:
            if module.endswith(".__main__"):  # runs the program on import: ask it for --help only
                sys.argv = [module, "--help"]
                sys.stdout = open(os.devnull, "w")
            importlib.import_module(module)
        except SystemExit as stop:
            os._exit(0 if module.endswith(".__main__") and stop.code in (0, None) else 1)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    if os.waitpid(pid, 0)[1] != 0:
        failed.append(module)
print(" ".join(failed))
"""


def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    modules = sorted(_modules())
    done = subprocess.run([sys.executable, "-c", _FRESH_IMPORTS], input=" ".join(modules), capture_output=True,
                          text=True, cwd=PACKAGE.parent, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    failed = done.stdout.split()
    assert not failed, f"these modules fail when imported first: {failed}\n{done.stderr[-6000:]}"


def test_top_level_holds_only_sub_packages_and_small_shared_modules() -> None:
    files = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert files == ["__init__.py", "api.py", "backends.py", "cache.py", "errors.py"] or files == [
        "__init__.py", "backends.py", "cache.py", "errors.py"]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_about_400_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_LINES


def test_every_sub_package_says_what_it_owns_and_may_import() -> None:
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and "import" in doc.lower(), f"{init} needs a docstring naming what it owns and may import"


def test_report_and_api_sit_on_results_queries_not_on_the_cli() -> None:
    """Run resolution, leaderboards, the runs table and confusion pairs live in evaluator.results;
    the report and the Python API use them there, never through evaluator.cli."""
    modules = _modules()
    users = {m: p for m, p in modules.items() if m == "evaluator.api" or m.startswith("evaluator.report")}
    wrong = [f"{m} imports {i}" for m, p in users.items() for i, _ in _imports(p)
             if i == "evaluator.cli" or i.startswith("evaluator.cli.")]
    assert not wrong, "\n".join(wrong)


def test_scoring_runs_no_sql() -> None:
    """scoring holds pure functions over text and numbers: no module of it queries a database."""
    wrong = [str(p.relative_to(PACKAGE)) for p in (PACKAGE / "scoring").rglob("*.py")
             if ".execute(" in p.read_text() or "duckdb" in p.read_text()]
    assert not wrong, f"SQL in scoring (move it to evaluator/results): {', '.join(wrong)}"
