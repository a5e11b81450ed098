"""The statistical error of an AUC measured on a finite sample (Hanley & McNeil, 1982).

Exact for no particular score distribution but a good, cheap 1σ estimate; it grows
as either class shrinks, which is what a summary needs to show.
"""

from __future__ import annotations

import math

__all__ = ["auc_error"]


def auc_error(auc: float, n_positive: int, n_negative: int) -> float:
    """Standard error of ``auc`` from ``n_positive`` and ``n_negative`` examples (nan if none)."""
    if n_positive <= 0 or n_negative <= 0 or not math.isfinite(auc):
        return math.nan
    q1, q2 = auc / (2.0 - auc), 2.0 * auc**2 / (1.0 + auc)
    variance = (
        auc * (1.0 - auc) + (n_positive - 1) * (q1 - auc**2) + (n_negative - 1) * (q2 - auc**2)
    ) / (n_positive * n_negative)
    return math.sqrt(max(variance, 0.0))
