"""pyproject.toml declares what the code imports, and nothing it does not use.

A module that is imported but not declared works only while something else happens to
install it; a declared package nothing uses is installed, and its imports paid for, for
nothing. Import names are mapped to the distributions that provide them by
importlib.metadata (`yaml` is PyYAML's, `markupsafe` MarkupSafe's).
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = {"tracker", "events", "projections", "benchmarks", "tests"}
RUNTIME_CODE = ("tracker", "events", "projections", "benchmarks")

#: Declared and used, though never imported by name.
USED_WITHOUT_IMPORT = {
    "datasette-dashboards": "a Datasette plugin: Datasette loads it by its entry point",
    "datasette-cluster-map": "a Datasette plugin: Datasette loads it by its entry point",
    "pycountry": "events/codes.py reads its data files, which is faster than importing it",
}


def normal(name: str) -> str:
    """A distribution name as the packaging standards compare them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(group: str | None = None) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] if group is None else project["optional-dependencies"][group]
    return {normal(re.match(r"[A-Za-z0-9._-]+", requirement).group(0)) for requirement in requirements}


def third_party_imports(*folders: str) -> dict[str, set[str]]:
    """Top-level module → the files that import it, for every import outside the standard library."""
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                        found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def undeclared(imports: dict[str, set[str]], allowed: set[str]) -> list[str]:
    providers = packages_distributions()
    problems = []
    for module, files in sorted(imports.items()):
        distributions = {normal(d) for d in providers.get(module, [])}
        if not distributions & allowed:
            problems.append(f"{module} ({', '.join(sorted(distributions)) or 'not installed'}), imported by {sorted(files)}")
    return problems


def test_every_module_the_code_imports_is_a_declared_dependency():
    assert undeclared(third_party_imports(*RUNTIME_CODE), declared()) == []


def test_every_module_the_tests_import_is_declared_for_them():
    assert undeclared(third_party_imports("tests"), declared() | declared("test")) == []


def test_every_declared_dependency_is_used():
    providers = packages_distributions()
    imported = {
        normal(distribution)
        for module in third_party_imports(*RUNTIME_CODE, "tests")
        for distribution in providers.get(module, [])
    }
    unused = (declared() | declared("test")) - imported - set(USED_WITHOUT_IMPORT)
    assert unused == set()
