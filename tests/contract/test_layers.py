"""The layer table of docs/architecture.md holds in the imports of src/alignlab."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "alignlab"
BASE = {"_io", "_device", "stats", "__init__", "features_io"}
ALLOWED = {  # layer -> the alignlab layers it may import (itself always allowed)
    "base": {"base"},
    "metrics": {"base"},
    "data": {"base"},
    "models": {"base"},
    "train": {"base", "models"},
    "experiments": {"base", "metrics", "data", "models", "train", "studies_registry"},
    "studies": {"base", "metrics", "data", "models", "train", "experiments"},
    "analysis": {"base"},
    "presets": set(),
    "cli": {"base", "metrics", "data", "models", "train", "experiments", "studies", "analysis"},
}
NO_TORCH = {"analysis"}


def _layer(module: str) -> str:
    """'alignlab.metrics.engine' -> 'metrics'; base modules -> 'base'."""
    parts = module.split(".")
    head = parts[1] if len(parts) > 1 else "__init__"
    return "base" if head in BASE else head


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):  # imports for type checkers only do not run
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            node.body = []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        yield ".".join(rel.parts), path


@pytest.mark.parametrize(("module", "path"), list(_modules()), ids=lambda v: str(v))
def test_every_import_respects_the_layer_table(module, path):
    own = _layer(module)
    bad = []
    for name in _imports(path):
        if name.startswith("torch") and own in NO_TORCH:
            bad.append(name)
        if not name.startswith("alignlab.") and name != "alignlab":
            continue
        target = _layer(name)
        if target == own:
            continue
        if own == "experiments" and name == "alignlab.studies" and module.endswith("registry"):
            continue  # the registry loads the shipped studies (the one upward reference)
        if target not in ALLOWED[own]:
            bad.append(name)
    assert not bad, f"{module} ({own}) imports {bad}, outside its row of the layer table"


def _graph() -> dict[str, set[str]]:
    modules = dict(_modules())
    graph = {}
    for module, path in modules.items():
        targets = set()
        for name in _imports(path):
            # "from alignlab.x import y" may name a module y
            for candidate in (name,):
                if candidate in modules and candidate != module:
                    targets.add(candidate)
        graph[module] = targets
    return graph


def test_no_import_cycles_between_modules():
    graph = _graph()
    packages = {m for m in graph if (PACKAGE.parent / m.replace(".", "/") / "__init__.py").exists()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in graph[m]:
            if t in packages:  # an __init__ re-exporting its modules is not a cycle
                continue
            if state.get(t) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(t) :] + [t]))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in graph:
        if m not in state and m not in packages:
            visit(m)


def test_no_source_file_is_far_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 450}  # fmt: skip
    assert not long, f"split these modules (about 400 lines at most): {long}"
