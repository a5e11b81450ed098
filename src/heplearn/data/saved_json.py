"""Read back a JSON document heplearn saved (a run's ``run.json``, a model's metadata).

A damaged or foreign file is one :class:`~heplearn.errors.DataError` naming it,
never a ``UnicodeDecodeError`` or ``JSONDecodeError`` from deep inside a command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from heplearn.data.atomic import read_saved_text
from heplearn.errors import DataError

__all__ = ["read_saved_json"]


def read_saved_json(path: str | Path, what: str) -> dict[str, Any]:
    """The JSON object saved at ``path``; ``what`` names it in errors (e.g. ``"run"``)."""
    path = Path(path)
    text = read_saved_text(path, what)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(
            f"not a heplearn {what} file",
            str(path),
            f"it is not JSON ({err.msg} at line {err.lineno})",
            f"give the {path.name} written with the {what}",
        ) from err
    if not isinstance(value, dict):
        raise DataError(
            f"not a heplearn {what} file",
            str(path),
            f"it holds a JSON {type(value).__name__}, not an object",
            f"give the {path.name} written with the {what}",
        )
    return value
