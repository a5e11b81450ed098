"""The one writer of ``metrics.json``: strict JSON that any parser reads.

Python's ``json`` writes ``NaN`` and ``Infinity``, which are not JSON; a metric that
could not be computed is ``null`` instead.  numpy scalars and arrays become Python
numbers and lists, tuples lists, and mapping keys strings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.data.atomic import write_text_atomically

__all__ = ["json_safe", "write_metrics_json"]


def json_safe(value: Any) -> Any:
    """Plain JSON data: non-finite floats become None, numpy scalars/arrays Python values."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return json_safe(value.tolist())  # numpy → Python values, then the float check
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def write_metrics_json(
    path: str | Path, metrics: Mapping[str, Any], *, overwrite: bool = False
) -> Path:
    """Write ``metrics`` as strict, indented JSON to ``path`` (atomically); the path."""
    # allow_nan=False: anything json_safe missed fails here, not in a reader.
    text = json.dumps(json_safe(metrics), indent=2, allow_nan=False) + "\n"
    return write_text_atomically(path, text, overwrite=overwrite)
