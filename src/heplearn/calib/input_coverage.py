"""Does an evaluated sample lie inside the training distribution?  Per-scalar coverage.

``calib train`` saves, beside ``scalers.json``, the training split's range and
0.1 % / 99.9 % quantiles of every scalar input (``input_ranges.json``,
:class:`InputRanges`).  ``calib evaluate`` measures, per scalar, the fraction of
the evaluated clusters outside the training range and outside those quantiles
(:func:`input_coverage`).  A sample drawn like the training one has about
0.2 % outside the quantiles; a feature is flagged when its out-of-quantile
fraction exceeds :data:`WARN_FRACTION` (1 %, five times that) **and** the count
is significant against the 0.2 % expectation (one-sided binomial p-value below
:data:`WARN_P_VALUE`), so a 100-cluster test split does not warn on two
clusters in a tail.  Runs trained before this file existed have no ranges: the
check is skipped and says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import binom

from heplearn.data.atomic import read_saved_text, write_text_atomically
from heplearn.errors import DataError

__all__ = [
    "QUANTILES",
    "WARN_FRACTION",
    "WARN_P_VALUE",
    "InputRanges",
    "coverage_warning",
    "input_coverage",
]

Array = np.ndarray[Any, Any]

FORMAT = "heplearn-input-ranges"
VERSION = 1
#: The tail quantiles of the training split that bound "in distribution".
QUANTILES = (0.001, 0.999)
#: A feature warns above this out-of-quantile fraction (0.2 % is expected in distribution).
WARN_FRACTION = 0.01
#: … and only if that many clusters outside is this unlikely at the expected 0.2 %.
WARN_P_VALUE = 1e-3
_EXPECTED = QUANTILES[0] + 1.0 - QUANTILES[1]


@dataclass(frozen=True)
class InputRanges:
    """Training min/max and tail quantiles of each scalar input."""

    names: tuple[str, ...]
    minimum: tuple[float, ...]
    maximum: tuple[float, ...]
    q_low: tuple[float, ...]
    q_high: tuple[float, ...]
    n_train: int

    @classmethod
    def fit(cls, names: tuple[str, ...], scalars: Array) -> InputRanges:
        """From the training split's raw (unscaled) scalars, shape (N, S)."""
        values = np.asarray(scalars, dtype=np.float64)
        if values.shape[0] == 0:
            raise DataError(
                "empty training split", "the input ranges", "no clusters", "use more events"
            )
        low, high = np.quantile(values, QUANTILES, axis=0)
        return cls(
            tuple(names),
            tuple(float(v) for v in values.min(axis=0)),
            tuple(float(v) for v in values.max(axis=0)),
            tuple(float(v) for v in low),
            tuple(float(v) for v in high),
            int(values.shape[0]),
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "version": VERSION,
                "quantiles": list(QUANTILES),
                "n_train": self.n_train,
                "features": {
                    name: {
                        "min": self.minimum[i],
                        "max": self.maximum[i],
                        "q_low": self.q_low[i],
                        "q_high": self.q_high[i],
                    }
                    for i, name in enumerate(self.names)
                },
            },
            indent=2,
            allow_nan=False,
        )

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Written under a temporary name and renamed."""
        return write_text_atomically(path, self.to_json() + "\n", overwrite=overwrite)

    @classmethod
    def load(cls, path: str | Path) -> InputRanges | None:
        """The saved ranges, or None for a run written before they were saved."""
        path = Path(path)
        if not path.is_file():
            return None
        where = str(path)
        try:
            data = json.loads(read_saved_text(path, "input ranges"))
            if data.get("format") != FORMAT or int(data["version"]) > VERSION:
                raise ValueError(f"format {data.get('format')!r} version {data.get('version')!r}")
            features = data["features"]
            names = tuple(str(n) for n in features)
            return cls(
                names,
                tuple(float(features[n]["min"]) for n in names),
                tuple(float(features[n]["max"]) for n in names),
                tuple(float(features[n]["q_low"]) for n in names),
                tuple(float(features[n]["q_high"]) for n in names),
                int(data["n_train"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise DataError(
                "not a heplearn input-ranges file",
                where,
                f"an entry is missing or malformed ({err})",
                "retrain the run, or delete the file to skip the coverage check",
            ) from err


def input_coverage(ranges: InputRanges, names: tuple[str, ...], scalars: Array) -> dict[str, Any]:
    """Per-feature coverage table and the features flagged as out of distribution.

    ``{"features": [{name, n, outside_range, outside_quantiles, p_value, flagged}, …],
    "flagged": [names], "threshold": …, "p_value": …, "quantiles": …}``;
    features the ranges do not know are skipped.
    """
    values = np.asarray(scalars, dtype=np.float64)
    n = values.shape[0]
    rows = []
    for s, name in enumerate(names):
        if name not in ranges.names or n == 0:
            continue
        i = ranges.names.index(name)
        column = values[:, s]
        out_range = int(((column < ranges.minimum[i]) | (column > ranges.maximum[i])).sum())
        out_q = int(((column < ranges.q_low[i]) | (column > ranges.q_high[i])).sum())
        p_value = float(binom.sf(out_q - 1, n, _EXPECTED)) if out_q else 1.0
        flagged = out_q / n > WARN_FRACTION and p_value < WARN_P_VALUE
        rows.append(
            {
                "feature": name,
                "n": n,
                "outside_range": out_range / n,
                "outside_quantiles": out_q / n,
                "p_value": p_value,
                "flagged": bool(flagged),
            }
        )
    return {
        "available": True,
        "quantiles": list(QUANTILES),
        "threshold": WARN_FRACTION,
        "p_value_threshold": WARN_P_VALUE,
        "features": rows,
        "flagged": [row["feature"] for row in rows if row["flagged"]],
    }


def coverage_warning(table: dict[str, Any]) -> str | None:
    """One line naming the out-of-distribution features and their fractions, or None."""
    flagged = [row for row in table.get("features", []) if row["flagged"]]
    if not flagged:
        return None
    flagged.sort(key=lambda row: -row["outside_quantiles"])
    listed = ", ".join(
        f"{row['feature']} {100 * row['outside_quantiles']:.1f} % "
        f"({100 * row['outside_range']:.1f} % outside the training range)"
        for row in flagged
    )
    return (
        f"inputs out of the training distribution (fraction of clusters outside the "
        f"training 0.1–99.9 % quantiles, threshold {100 * WARN_FRACTION:g} %): {listed}; "
        "the calibration is not validated for this population"
    )
