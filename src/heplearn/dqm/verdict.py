"""Per-map verdicts from flagged channels, and the records ``heplearn dqm check`` prints.

Unsupervised models (qtest, ae) know *where* a map deviates, not which fault it is;
the class comes from how the flagged channels deviate from the expectation
(``normalised = counts / expected``, 1 = nominal):

- no flagged channel → good;
- flagged channels deviating both ways (at least ``NOISY_MIN_SHARE`` of them above
  and of them below nominal, and at least 2) → noisy (raised spread);
- otherwise mostly above nominal → hot;
- mostly below: median normalised < ``DEAD_BELOW`` (observed ≈ 0) → dead, else
  partial (a gain ×0.1–0.85 region).

A map without statistics (no events or no hits) is "no-statistics", never "dead".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from heplearn.dqm.labels import CLASS_NAMES

__all__ = [
    "DEAD_BELOW",
    "NOISY_MIN_SHARE",
    "NO_STATISTICS",
    "map_verdict",
    "verdict_from_channels",
]

Array = np.ndarray[Any, Any]

#: Flagged channels below this fraction of the expectation count as "observed ≈ 0".
DEAD_BELOW = 0.1
#: Share of flagged channels that must deviate on each side for "noisy".
NOISY_MIN_SHARE = 0.25
#: The verdict of an empty map.
NO_STATISTICS = "no-statistics"

_GOOD, _DEAD, _HOT, _NOISY, _PARTIAL = (
    CLASS_NAMES.index(name) for name in ("good", "dead", "hot", "noisy", "partial")
)


def _classify(values: Array) -> int:
    """The class of one map from the normalised values of its flagged channels."""
    if values.size == 0:
        return _GOOD
    high = int((values > 1.0).sum())
    low = int((values < 1.0).sum())
    if values.size >= 2 and min(high, low) >= NOISY_MIN_SHARE * values.size:
        return _NOISY
    if high > low:
        return _HOT
    return _DEAD if float(np.median(values)) < DEAD_BELOW else _PARTIAL


def verdict_from_channels(normalised: Array, flags: Array) -> np.ndarray[Any, np.dtype[np.int64]]:
    """(N,) class index into ``CLASS_NAMES`` per map from (N, H, W, D) normalised values, flags."""
    n = normalised.shape[0]
    flat_values = normalised.reshape(n, -1)
    flat_flags = flags.reshape(n, -1).astype(bool)
    return np.array(
        [_classify(flat_values[i][flat_flags[i]]) for i in range(n)],
        dtype=np.int64,
    )


def _flag_indices(flags: Array, two_d: bool) -> list[list[int]]:
    """Flagged channel indices as [row, col] (2-D maps) or [row, col, depth]."""
    rows = np.argwhere(flags)
    if two_d:
        return [[int(r), int(c)] for r, c, _ in rows]
    return [[int(r), int(c), int(d)] for r, c, d in rows]


def map_verdict(
    names: list[str],
    classes: Array,
    scores: Array,
    flags: Array,
    empty: Array,
    *,
    two_d: bool | None = None,
) -> list[dict[str, Any]]:
    """One ``{"map", "verdict", "score", "flagged"}`` record per map (the ``--json`` output).

    ``flags`` is (N, H, W, D); ``two_d`` (default: ``D == 1``) writes flagged channels
    as ``[row, col]``, else ``[row, col, depth]``, indices into the map as read.
    Empty maps get verdict "no-statistics", score 0 and no flagged channels.
    """
    if two_d is None:
        two_d = flags.shape[-1] == 1
    records: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        if bool(empty[i]):
            records.append({"map": name, "verdict": NO_STATISTICS, "score": 0.0, "flagged": []})
            continue
        records.append(
            {
                "map": name,
                "verdict": CLASS_NAMES[int(classes[i])],
                "score": float(scores[i]),
                "flagged": _flag_indices(flags[i], two_d),
            }
        )
    return records
