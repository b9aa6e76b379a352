"""The code's shape: imports run one way, events → log → replay → publish → cli, with no
cycle among modules, function-level imports included."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Each layer may import only the layers before it.
LAYERS = ["events", "projections", "tracker.log", "tracker.replay", "tracker.publish", "tracker.cli", "tracker"]


def modules() -> dict[str, Path]:
    found = {}
    for package in ("events", "projections", "tracker"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules `name` imports anywhere in its body."""
    found = set()
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            for alias in node.names:
                target = f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                if target in known and target != name:
                    found.add(target)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known and alias.name != name}
    return found


def layer(name: str) -> int:
    """The layer of the longest prefix that names the module: tracker.cli.main is cli's, not tracker's."""
    matching = [prefix for prefix in LAYERS if name == prefix or name.startswith(prefix + ".")]
    return LAYERS.index(max(matching, key=len))


GRAPH = {name: imports(name, path, modules()) for name, path in modules().items()}


def test_no_module_imports_a_layer_above_its_own():
    upward = [f"{a} -> {b}" for a, targets in GRAPH.items() for b in targets if layer(b) > layer(a)]
    assert upward == []


def test_no_modules_import_each_other_in_a_circle():
    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in GRAPH[start]:
            if nxt == goal or (nxt not in seen and (seen.add(nxt) or reaches(nxt, goal, seen))):
                return True
        return False

    circular = sorted(name for name in GRAPH if reaches(name, name, set()))
    assert circular == []


def test_the_checks_see_the_imports_they_are_about():
    assert "tracker.log.store" in GRAPH["tracker.log.importing"]
    assert "tracker.replay.engine" in GRAPH["tracker.replay.checks"]
    assert "tracker.replay.search" in GRAPH["tracker.replay.engine"]  # imported inside a function
    assert layer("tracker.cli.main") > layer("tracker.publish.site") > layer("tracker.replay.engine") > layer("tracker.log.store")
