"""Bootstrap errors of a statistic of per-event arrays, resampling events jointly."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from heplearn.errors import ConfigError, DataError

__all__ = ["bootstrap", "same_length"]

Array = np.ndarray[Any, Any]


def same_length(arrays: Sequence[Array], where: str) -> int:
    """The common length of ``arrays``; a DataError naming ``where`` when they differ."""
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise DataError(
            "arrays",
            where,
            f"they have different lengths {sorted(lengths)}",
            "pass one value per event in every array",
        )
    return lengths.pop()


def bootstrap(
    statistic: Callable[..., float], *arrays: Array, n: int = 200, seed: int = 0
) -> tuple[float, float]:
    """``statistic(*arrays)`` and its bootstrap error (standard deviation over ``n`` resamples).

    Every resample draws the same event indices from all ``arrays``, so a
    statistic of several arrays (a ratio of widths) keeps their correlation.
    The error is NaN with fewer than two events.
    """
    if not arrays:
        raise ConfigError(
            "bootstrap()", "arrays", "no array to resample", "pass the statistic's inputs"
        )
    columns = [np.asarray(a) for a in arrays]
    size = same_length(columns, "bootstrap()")
    value = float(statistic(*columns))
    if size < 2 or n < 2:
        return value, math.nan
    rng = np.random.default_rng(seed)
    draws = np.empty(n)
    for i in range(n):
        index = rng.integers(0, size, size)
        draws[i] = statistic(*(c[index] for c in columns))
    return value, float(np.std(draws, ddof=1))
