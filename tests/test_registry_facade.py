"""Code outside ``maas_nb/registry`` reaches the stores only through the `Registry` facade."""

import ast

from tests.helpers import ROOT

PACKAGE = ROOT / "maas_nb"
STORES = {"store", "artifacts"}


def store_accesses(source: str) -> list[str]:
    """``line: text`` for each ``X.store`` or ``X.artifacts`` in *source*."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in STORES:
            found.append((node.lineno, ast.unparse(node)))
    return [f"{line}: {text}" for line, text in sorted(found)]


def test_the_walk_finds_a_store_access():
    assert store_accesses("runs = reg.store.list_pipeline_runs()\nx = a.b.artifacts") == [
        "1: reg.store",
        "2: a.b.artifacts",
    ]


def test_no_module_outside_the_registry_touches_its_stores():
    offenders = [
        f"{path.relative_to(ROOT)}:{hit}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if PACKAGE / "registry" not in path.parents
        for hit in store_accesses(path.read_text())
    ]
    assert offenders == [], (
        "Use the Registry's methods (list_pipeline_runs, pipeline_notebook, ...) instead of "
        "its stores; add a method to maas_nb/registry/registry.py if one is missing."
    )
