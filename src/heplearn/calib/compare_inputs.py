"""The inputs of ``calib compare``: the scalar columns of an MC and a data store, checked.

Both stores must carry every compared ``scalars/<name>`` (E_acc and η always) and
``event/id``, as finite numbers, with at least :data:`MIN_CLUSTERS` clusters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.calib.features import DEEPCALO_SCALARS
from heplearn.calib.quantile_mapping import CONDITIONING
from heplearn.data.reader import Store
from heplearn.errors import DataError, SchemaError

__all__ = ["MIN_CLUSTERS", "Sample", "compared_variables", "read_sample"]

Array = np.ndarray[Any, Any]

#: Fewest clusters of each sample (a third fits, a third trains, a third measures).
MIN_CLUSTERS = 200


@dataclass
class Sample:
    """The scalar columns of one store, as (N, V) and by name."""

    path: Path
    names: tuple[str, ...]
    x: Array
    event_id: Array

    def columns(self, rows: Array | slice = slice(None)) -> dict[str, Array]:
        return {name: self.x[rows, k] for k, name in enumerate(self.names)}

    def matrix(self, columns: dict[str, Array]) -> Array:
        return np.stack([np.asarray(columns[n], np.float64) for n in self.names], axis=1)


def compared_variables(data: Store, mc: Store, chosen: Sequence[str] | None) -> tuple[str, ...]:
    """The compared scalars: ``chosen`` or the DeepCalo scalars of the data; both must have them."""
    if chosen is None:
        names = [n for n in DEEPCALO_SCALARS if f"scalars/{n}" in data.schema]
        names += [n for n in CONDITIONING if n not in names]
    else:
        names = list(dict.fromkeys([*CONDITIONING, *chosen]))
    for store, other in ((data, "MC"), (mc, "data")):
        absent = [n for n in names if f"scalars/{n}" not in store.schema]
        if absent:
            have = sorted(
                k.removeprefix("scalars/") for k in store.schema if k.startswith("scalars/")
            )
            raise SchemaError(
                f"missing scalars {', '.join(absent)}",
                str(store.path),
                f"the {other} sample is compared on them (E_acc and η always); this store has "
                + (f"scalars/{{{', '.join(have)}}}" if have else "no scalars/*"),
                "give MC and data stores with the same fields, or choose --variables both have",
            )
    if "event/id" not in data.schema or "event/id" not in mc.schema:
        store = data if "event/id" not in data.schema else mc
        raise SchemaError(
            "missing field event/id",
            str(store.path),
            "the halves are split by event (both clusters of an event together)",
            "map it with 'heplearn data import --mapping'",
        )
    return tuple(names)


def read_sample(store: Store, names: tuple[str, ...]) -> Sample:
    fields = [f"scalars/{n}" for n in names]
    columns = store.read([*fields, "event/id"])
    where = str(store.path)
    for name in fields:
        values = np.asarray(columns[name])
        if values.ndim != 1 or values.dtype.kind not in "fiub":
            raise SchemaError(
                f"field {name} is not a number per cluster",
                where,
                f"it has dtype {values.dtype} and shape {values.shape[1:]}",
                "compare scalar fields only",
            )
        bad = int((~np.isfinite(values.astype(np.float64))).sum())
        if bad:
            raise DataError(
                "NaN/inf values",
                where,
                f"found in {name} ({bad} cluster{'s' if bad > 1 else ''} of {len(values)})",
                "drop or fix those clusters and retry",
            )
    if store.rows < MIN_CLUSTERS:
        raise DataError(
            "too few clusters to compare",
            where,
            f"{store.rows} clusters; a third fits the maps, a third trains the classifier, "
            "a third measures it",
            f"use at least {MIN_CLUSTERS} clusters in each sample",
        )
    x = np.stack([np.asarray(columns[f], np.float64) for f in fields], axis=1)
    return Sample(store.path, names, x, np.asarray(columns["event/id"], np.int64))
