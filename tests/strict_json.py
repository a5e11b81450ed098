"""A strict JSON check: ``NaN``/``Infinity`` (which Python's json writes and reads) are refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def strict_load(text: str) -> Any:
    """``json.loads`` that refuses NaN, Infinity and -Infinity."""
    return json.loads(text, parse_constant=_refuse)


def _problem(path: Path) -> str | None:
    try:
        strict_load(path.read_text(encoding="utf-8"))
    except ValueError as err:  # JSONDecodeError included
        return f"{path}: {err}"
    return None


def strict_json_errors(root: Path, name: str = "metrics.json") -> tuple[int, list[str]]:
    """How many files called ``name`` lie under ``root``, and one line per non-strict one."""
    paths = sorted(root.rglob(name))
    return len(paths), [problem for path in paths if (problem := _problem(path)) is not None]
