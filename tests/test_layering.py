"""Dependencies point downward only (DESIGN.md): a small AST check of every import in src/."""

from __future__ import annotations

import ast
from pathlib import Path

import heplearn

PACKAGE = Path(heplearn.__file__).parent

#: Rank of each top-level part; a module may import parts of equal or lower rank.
RANK = {
    "errors": 0,
    "config": 0,
    "progress": 0,
    "data": 1,
    "stats": 1,
    "generate": 2,
    "detector": 2,
    "training": 3,
    "report": 3,
    "calib": 4,
    "dqm": 4,
    "search": 4,
    "cli": 5,
}
WORKFLOWS = {"calib", "dqm", "search"}


def _part(module: str) -> str | None:
    pieces = module.split(".")
    return pieces[1] if pieces[0] == "heplearn" and len(pieces) > 1 else None


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return found


def test_every_part_has_a_rank() -> None:
    parts = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()}
    parts -= {"__init__", "__pycache__", "py"}
    assert parts <= set(RANK), parts - set(RANK)


def test_imports_point_downward() -> None:
    violations = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        own = relative.parts[0].removesuffix(".py")
        if own == "__init__":
            continue
        for module in _imports(path):
            target = _part(module)
            if target is None or target == own:
                continue
            upward = RANK[target] > RANK[own]
            sideways = own in WORKFLOWS and target in WORKFLOWS
            if upward or sideways:
                violations.append(f"{relative} imports {module}")
    assert not violations, violations
