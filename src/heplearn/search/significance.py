"""Discovery significance: Asimov Z with and without a background uncertainty.

Formulas (Cowan, Cranmer, Gross, Vitells, EPJC 71 (2011) 1554, and the
thesis' Eq. 5.3), for ``s`` signal and ``b`` background events expected at the
luminosity:

- no uncertainty:  Z = √(2[(s+b) ln(1+s/b) − s])  → s/√b for s ≪ b;
- relative background uncertainty σ_b (absolute σ = σ_b·b):
  Z = √(2[(s+b) ln((s+b)(b+σ²)/(b²+(s+b)σ²)) − (b²/σ²) ln(1 + σ²s/(b(b+σ²)))]),
  which is ≤ the first and tends to it as σ_b → 0.

Both are evaluated in one cancellation-free form: the first logarithm equals
log1p(s·b/(b²+(s+b)σ²)) and the second term equals s·b/(b+σ²)·log1p(y)/y with
y = σ²s/(b(b+σ²)), so σ_b = 0 needs no special case and tiny s/b stays exact.

Empty bins: Z → ∞ as b → 0 for any s > 0, so a scan over cuts or score
thresholds would happily select a region with no simulated background.  Every
scan here therefore (1) requires ``min_background`` expected events (default
1) *and* ``min_background_events`` simulated background events (default 5)
in the selected region, and (2) *chooses* the selection with
:func:`selection_z`, whose background uncertainty is σ_b ⊕ the MC statistical
uncertainty √(Σw²)/b — a region resting on a handful of heavy background
events is then not attractive (without it the scans picked the region at the
5-event floor, a training fluctuation that lost ~40 % of its Z on held-out
events).  The Z *reported* (``CountResult.z``) uses σ_b alone.  A raw event count does
not see a region dominated by one heavy event (16 simulated events, one an unbiased
Drell–Yan event of weight ~1000: b = 1526 ± 1054), so the scans also require
``min_effective_events`` (default 5) *effective* background events (Σw)²/Σw².
:func:`asimov_z` itself returns 0 where b ≤ 0 or s ≤ 0 (no discovery claim
is possible there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "MIN_BACKGROUND",
    "MIN_BACKGROUND_EVENTS",
    "MIN_EFFECTIVE_EVENTS",
    "CountResult",
    "asimov_z",
    "best_threshold",
    "binned_significance",
    "count",
    "effective_events",
    "selection_z",
    "z_statistical_error",
]

Array = np.ndarray[Any, Any]

#: Smallest expected background yield [events at the luminosity] a selected region may have.
MIN_BACKGROUND = 1.0
#: Smallest number of simulated background events a selected region may have.
MIN_BACKGROUND_EVENTS = 5
#: Smallest effective number of background events (Σw)²/Σw² a selected region may have.
MIN_EFFECTIVE_EVENTS = 5.0


def effective_events(b: Any, sumw2_b: Any) -> Any:
    """(Σw)²/Σw²: the equal-weight events with the same relative MC uncertainty (0 if empty)."""
    b_arr, w2 = np.asarray(b, np.float64), np.asarray(sumw2_b, np.float64)
    out = np.where(w2 > 0, b_arr * b_arr / np.where(w2 > 0, w2, 1.0), 0.0)
    return float(out) if out.ndim == 0 else out


def _log1p_over(y: Array) -> Array:
    """log1p(y)/y, equal to 1 at y = 0 (series below 1e-6 where the ratio loses digits)."""
    small = np.abs(y) < 1e-6
    safe = np.where(small, 1.0, y)
    out: Array = np.where(small, 1.0 - y / 2.0 + y * y / 3.0, np.log1p(safe) / safe)
    return out


def asimov_z(s: Any, b: Any, sigma_b_rel: Any = 0.0) -> Any:
    """Asimov discovery significance for ``s`` signal over ``b`` background events.

    ``sigma_b_rel`` is the relative background uncertainty (0.1 = 10 %).  Works
    on scalars (returns a float) and on arrays (broadcast, returns an array).
    Returns 0 where s ≤ 0 or b ≤ 0.
    """
    rel = np.asarray(sigma_b_rel, np.float64)
    if np.any(rel < 0):
        raise ValueError(f"sigma_b_rel must be ≥ 0, got {sigma_b_rel}")
    s_arr, b_arr, rel = np.broadcast_arrays(
        np.asarray(s, np.float64), np.asarray(b, np.float64), rel
    )
    valid = (s_arr > 0) & (b_arr > 0) & np.isfinite(s_arr) & np.isfinite(b_arr)
    sv = np.where(valid, s_arr, 1.0)
    bv = np.where(valid, b_arr, 1.0)
    var = (rel * bv) ** 2
    ratio = sv * bv / (bv * bv + (sv + bv) * var)
    y = var * sv / (bv * (bv + var))
    # (s+b)·log1p(r) − s·b/(b+σ²)·log1p(y)/y; for σ = 0 this is (s+b)·ln(1+s/b) − s.
    first = (sv + bv) * np.log1p(ratio)
    second = sv * bv / (bv + var) * _log1p_over(y)
    half_z2 = first - second
    # For s ≪ b (and σ = 0) the difference cancels; use the series s²/(2b)(1 − s/(3b) + …).
    x = sv / bv
    series = bv * (x * x / 2.0 - x**3 / 6.0 + x**4 / 12.0)
    half_z2 = np.where((x < 1e-3) & (var == 0), series, half_z2)
    z = np.where(valid, np.sqrt(2.0 * np.maximum(half_z2, 0.0)), 0.0)
    if z.ndim == 0:
        return float(z)
    return z


def selection_z(s: Any, b: Any, sumw2_b: Any, sigma_b_rel: float = 0.0) -> Any:
    """The Z a scan maximises: σ_b combined with the MC statistical uncertainty √(Σw²) of b.

    ``sumw2_b`` is the sum of squared background weights in the region.
    """
    b_arr = np.asarray(b, np.float64)
    safe = np.where(b_arr > 0, b_arr, 1.0)
    rel = np.sqrt(sigma_b_rel**2 + np.asarray(sumw2_b, np.float64) / safe**2)
    return asimov_z(s, b, rel)


@dataclass(frozen=True)
class CountResult:
    """The outcome of one selection: yields at the luminosity, MC counts and Z."""

    s: float
    b: float
    z: float
    n_signal_events: int
    n_background_events: int
    #: The score threshold of a classifier selection (score ≥ threshold); nan for cuts.
    threshold: float = float("nan")
    #: MC statistical uncertainty √(Σw²) of b, and Z with it added to σ_b in quadrature.
    b_mc_error: float = 0.0
    z_with_mc_stat: float = 0.0

    def to_dict(self) -> dict[str, float]:
        """Plain numbers for metrics.json."""
        return {
            "s": self.s,
            "b": self.b,
            "b_mc_error": self.b_mc_error,
            "z": self.z,
            "z_with_mc_stat": self.z_with_mc_stat,
            "n_signal_events": float(self.n_signal_events),
            "n_background_events": float(self.n_background_events),
            "threshold": self.threshold,
        }


def count(
    selected: Array, weights: Array, is_signal: Array, sigma_b_rel: float = 0.0
) -> CountResult:
    """Yields and Z of the events with ``selected`` True (evaluation weights, negatives kept)."""
    sel = np.asarray(selected, dtype=bool)
    w = np.asarray(weights, dtype=np.float64)
    sig = np.asarray(is_signal).astype(bool)
    s = float(w[sel & sig].sum())
    b = float(w[sel & ~sig].sum())
    sumw2 = float((w[sel & ~sig] ** 2).sum())
    return CountResult(
        s=s,
        b=b,
        z=float(asimov_z(s, b, sigma_b_rel)),
        n_signal_events=int(np.count_nonzero(sel & sig)),
        n_background_events=int(np.count_nonzero(sel & ~sig)),
        b_mc_error=sumw2**0.5,
        z_with_mc_stat=float(selection_z(s, b, sumw2, sigma_b_rel)),
    )


def best_threshold(
    scores: Array,
    weights: Array,
    is_signal: Array,
    sigma_b_rel: float = 0.0,
    *,
    n_thresholds: int | None = None,
    min_background: float = MIN_BACKGROUND,
    min_background_events: int = MIN_BACKGROUND_EVENTS,
    min_effective_events: float = MIN_EFFECTIVE_EVENTS,
) -> CountResult:
    """The score threshold (select score ≥ t) maximising Z on these events.

    Candidates are every distinct score (one sort and cumulative sums, so
    this is exact and O(N log N)), or ``n_thresholds`` quantiles of all
    scores if given; the lowest candidate is "no cut".  Thresholds leaving fewer than
    ``min_background`` expected, ``min_background_events`` simulated or
    ``min_effective_events`` effective background events are not allowed.  Choose it on
    the training/validation split and evaluate it on held-out events with :func:`count`
    (``scores >= result.threshold``).
    """
    x = np.asarray(scores, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    sig = np.asarray(is_signal).astype(bool)
    if not np.any(sig) or not np.any(~sig):
        raise ValueError("best_threshold needs signal and background events")
    if n_thresholds is None:
        candidates = np.unique(x)
    else:
        candidates = np.unique(np.quantile(x, np.linspace(0.0, 1.0, max(n_thresholds, 2))))
    # Cumulative yields above each candidate from one sort (descending scores).
    order = np.argsort(-x, kind="stable")
    xs, ws, ss = x[order], w[order], sig[order]
    s_cum = np.cumsum(np.where(ss, ws, 0.0))
    b_cum = np.cumsum(np.where(ss, 0.0, ws))
    b2_cum = np.cumsum(np.where(ss, 0.0, ws**2))
    nb_cum = np.cumsum(~ss)
    ns_cum = np.cumsum(ss)
    # Number of events with score ≥ t is the insertion point of t in the ascending -xs.
    n_sel = np.searchsorted(-xs, -candidates, side="right")
    idx = n_sel - 1
    s = np.where(n_sel > 0, s_cum[np.maximum(idx, 0)], 0.0)
    b = np.where(n_sel > 0, b_cum[np.maximum(idx, 0)], 0.0)
    b2 = np.where(n_sel > 0, b2_cum[np.maximum(idx, 0)], 0.0)
    nb = np.where(n_sel > 0, nb_cum[np.maximum(idx, 0)], 0)
    ns = np.where(n_sel > 0, ns_cum[np.maximum(idx, 0)], 0)
    z = np.asarray(asimov_z(s, b, sigma_b_rel))
    objective = np.asarray(selection_z(s, b, b2, sigma_b_rel))
    allowed = (
        (b >= min_background)
        & (nb >= min_background_events)
        & (np.asarray(effective_events(b, b2)) >= min_effective_events)
    )
    if not np.any(allowed):
        # Not even the loosest selection has enough background: report it, Z = 0.
        return CountResult(float(s[0]), float(b[0]), 0.0, int(ns[0]), int(nb[0]), candidates[0])
    best = int(np.argmax(np.where(allowed, objective, -1.0)))
    return CountResult(
        s=float(s[best]),
        b=float(b[best]),
        z=float(z[best]),
        n_signal_events=int(ns[best]),
        n_background_events=int(nb[best]),
        threshold=float(candidates[best]),
    )


def binned_significance(
    scores: Array,
    weights: Array,
    is_signal: Array,
    sigma_b_rel: float = 0.0,
    *,
    bins: int | Array = 20,
    score_range: tuple[float, float] = (0.0, 1.0),
    min_background: float = MIN_BACKGROUND,
    min_background_events: int = MIN_BACKGROUND_EVENTS,
) -> float:
    """Combined Z of a score histogram: √(Σ Z_i²) over bins treated as independent counts.

    Walking from the highest-score bin down, bins are merged until each merged
    bin holds at least ``min_background`` expected and ``min_background_events``
    simulated background events; a remainder that never gets there is merged
    into the last complete bin (so no signal is dropped and no bin has b ≈ 0).
    """
    x = np.asarray(scores, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    sig = np.asarray(is_signal).astype(bool)
    edges = np.histogram_bin_edges(x, bins=bins, range=score_range)
    s_hist, _ = np.histogram(x[sig], bins=edges, weights=w[sig])
    b_hist, _ = np.histogram(x[~sig], bins=edges, weights=w[~sig])
    nb_hist, _ = np.histogram(x[~sig], bins=edges)
    merged: list[tuple[float, float]] = []
    s_acc = b_acc = 0.0
    nb_acc = 0
    for i in range(len(s_hist) - 1, -1, -1):
        s_acc += float(s_hist[i])
        b_acc += float(b_hist[i])
        nb_acc += int(nb_hist[i])
        if b_acc >= min_background and nb_acc >= min_background_events:
            merged.append((s_acc, b_acc))
            s_acc = b_acc = 0.0
            nb_acc = 0
    if s_acc or b_acc:
        if merged:
            last_s, last_b = merged.pop()
            merged.append((last_s + s_acc, last_b + b_acc))
        else:
            merged.append((s_acc, b_acc))
    if not merged:
        return 0.0
    s_bins = np.array([m[0] for m in merged])
    b_bins = np.array([m[1] for m in merged])
    z_bins = np.asarray(asimov_z(s_bins, b_bins, sigma_b_rel))
    return float(np.sqrt(np.sum(z_bins**2)))


def z_statistical_error(yields: dict[str, float], sigma_b_rel: float) -> float:
    """1σ error of a selection's Asimov Z from its finite simulated sample.

    ``yields`` is :meth:`CountResult.to_dict`: s is taken as uncertain by s/√(signal
    events), b by √Σw²; both are propagated through :func:`asimov_z`.  NaN when s or b is 0.
    """
    s, b, n_s = yields["s"], yields["b"], yields["n_signal_events"]
    if s <= 0 or b <= 0 or n_s <= 0:
        return math.nan
    z = float(asimov_z(s, b, sigma_b_rel))
    step_s, step_b = 1e-4 * s, 1e-4 * b
    slope_s = (float(asimov_z(s + step_s, b, sigma_b_rel)) - z) / step_s
    slope_b = (float(asimov_z(s, b + step_b, sigma_b_rel)) - z) / step_b
    return math.hypot(slope_s * s / math.sqrt(n_s), slope_b * yields["b_mc_error"])
