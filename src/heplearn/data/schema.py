"""The store's schema: one typed field per column, versioned.

A field is either *fixed* (a numpy array of shape ``(rows, *shape)``) or
*jagged* (one variable-length list of numbers per event, held in memory as an
awkward array and on disk as ``offsets`` + ``content``).  Field names are
``group/name`` paths (``truth/energy``, ``images/lr2``, ``extra/jet_pt``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import awkward as ak
import numpy as np

__all__ = [
    "SCHEMA_VERSION",
    "Column",
    "FieldSpec",
    "Schema",
    "count_nonfinite",
    "is_jagged",
    "jagged_from_parts",
    "jagged_to_parts",
    "schema_from_json",
    "schema_to_json",
    "spec_of",
    "valid_field_name",
]

#: Bumped whenever the on-disk layout changes; readers refuse newer versions.
SCHEMA_VERSION = 1

Column: TypeAlias = "np.ndarray[Any, Any] | ak.Array"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*(/[A-Za-z_][A-Za-z0-9_.\-]*)*$")
_NUMERIC_KINDS = "biuf"


@dataclass(frozen=True)
class FieldSpec:
    """Type of one column: numpy dtype name and per-event shape, or jagged."""

    dtype: str
    shape: tuple[int, ...] = ()
    jagged: bool = False

    def describe(self) -> str:
        """Human-readable type, e.g. ``float32 (7, 11)`` or ``var * float32``."""
        if self.jagged:
            return f"var * {self.dtype}"
        return f"{self.dtype} {self.shape}" if self.shape else self.dtype

    @property
    def is_float(self) -> bool:
        return np.dtype(self.dtype).kind == "f"


Schema: TypeAlias = dict[str, FieldSpec]


def valid_field_name(name: str) -> bool:
    """Whether ``name`` is a legal ``group/name`` field path."""
    return bool(_NAME.match(name))


def is_jagged(column: Column) -> bool:
    return isinstance(column, ak.Array)


def spec_of(column: Column) -> FieldSpec:
    """Infer the field spec of an in-memory column; raise TypeError if unsupported."""
    if isinstance(column, ak.Array):
        content = ak.to_numpy(ak.flatten(column, axis=1)) if len(column) else np.zeros(0)
        if column.ndim != 2 or content.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(f"jagged column of type {column.type} is not a list of numbers")
        return FieldSpec(dtype=str(_content_dtype(column)), jagged=True)
    array = np.asarray(column)
    if array.dtype.kind not in _NUMERIC_KINDS or array.ndim == 0:
        raise TypeError(f"column of dtype {array.dtype} and ndim {array.ndim} is not numeric")
    return FieldSpec(dtype=str(array.dtype), shape=tuple(int(s) for s in array.shape[1:]))


def _content_dtype(column: ak.Array) -> np.dtype[Any]:
    layout = ak.to_layout(column)
    while hasattr(layout, "content"):
        layout = layout.content
    return np.dtype(str(layout.dtype))


def count_nonfinite(column: Column) -> int:
    """Number of NaN/inf entries of a fixed or jagged column (0 for integers)."""
    array = ak.to_numpy(ak.flatten(column, axis=1)) if is_jagged(column) else np.asarray(column)
    if array.dtype.kind != "f":
        return 0
    return int(array.size - np.count_nonzero(np.isfinite(array)))


def jagged_to_parts(column: ak.Array) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Split a jagged column into ``(offsets, content)`` with ``len(offsets) == rows + 1``."""
    counts = ak.to_numpy(ak.num(column, axis=1)).astype(np.int64)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    content = ak.to_numpy(ak.flatten(column, axis=1)).astype(_content_dtype(column), copy=False)
    return offsets, content


def jagged_from_parts(offsets: np.ndarray[Any, Any], content: np.ndarray[Any, Any]) -> ak.Array:
    """Rebuild a jagged column from offsets (starting anywhere) and the matching content."""
    counts = np.diff(offsets)
    return ak.unflatten(content, counts)


def schema_to_json(schema: Mapping[str, FieldSpec]) -> str:
    return json.dumps(
        {
            name: {"dtype": spec.dtype, "shape": list(spec.shape), "jagged": spec.jagged}
            for name, spec in schema.items()
        },
        sort_keys=True,
    )


def schema_from_json(text: str) -> Schema:
    raw = json.loads(text)
    return {
        name: FieldSpec(
            dtype=str(entry["dtype"]),
            shape=tuple(int(s) for s in entry["shape"]),
            jagged=bool(entry["jagged"]),
        )
        for name, entry in raw.items()
    }
