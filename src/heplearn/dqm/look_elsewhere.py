"""From a false-alarm probability per map to test thresholds, and its leave-one-out check.

A map is tested once per live channel and once per group (:mod:`heplearn.dqm.groups`),
two-sided.  For a target false-alarm probability F per good map and T tests, the
Šidák correction gives each test the two-sided level ``p* = 1 − (1 − F)^(1/T)``; a test
fails when its tail probability is below ``p*/2`` on either side, i.e. when its
significance |z| (:func:`heplearn.dqm.dispersion.significance`) exceeds
``z* = Φ⁻¹(1 − p*/2)``.

Leave-one-out (:func:`leave_one_out`): each reference map in turn is checked against a
model fitted on the others (K-fold with ``MAX_FOLDS`` folds for more maps).  K maps
cannot resolve 1 % directly, so besides the maps flagged (k of K) the check counts
the tests beyond a looser level q (chosen so that about ``LOO_EXPECTED`` of them are
expected over the K maps): their ratio to the expectation measures how much heavier
the real tails are than the model's; the realised false-alarm rate is estimated as
``1 − (1 − F)^ratio``, or as k/K when more maps are flagged than twice the target
allows (binomial test at 5 %).  When it differs from F by more than
``CALIBRATION_TOLERANCE`` ×, the calibration says so.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special, stats

from heplearn.dqm.dispersion import PREFILTER_Z, Dispersion, fit_dispersion
from heplearn.dqm.groups import Grouping
from heplearn.dqm.maps import MapSet

__all__ = [
    "CALIBRATION_TOLERANCE",
    "LOO_EXPECTED",
    "calibration_note",
    "leave_one_out",
    "sidak_z",
]

Array = np.ndarray[Any, Any]

#: Tests expected beyond the loose level over the left-out maps (≈ 10 % precision).
LOO_EXPECTED = 100.0
#: Leave-one-out up to this many maps; K-fold with this many folds beyond.
MAX_FOLDS = 30
#: Realised and target false-alarm rates disagreeing by more than this factor are reported.
CALIBRATION_TOLERANCE = 2.0


def sidak_z(false_alarm: float, n_tests: int) -> float:
    """Two-sided per-test significance threshold for ``false_alarm`` per map over ``n_tests``."""
    per_test = -math.expm1(math.log1p(-false_alarm) / max(n_tests, 1))
    return float(special.ndtri(1.0 - per_test / 2.0))


def max_significance(model: Dispersion, maps: MapSet) -> tuple[Array, Array, Array]:
    """(N,) largest |z| per map, and the (N, C) channel and (N, G) group significances."""
    lumi = model.luminosity(maps)
    level = model.level(maps, lumi)
    cz, _ = model.channel_z(maps, lumi, level)
    gz = model.group_z(maps, lumi, level)
    worst = np.maximum(np.abs(cz).max(axis=1, initial=0.0), np.abs(gz).max(axis=1, initial=0.0))
    return worst, cz, gz


def leave_one_out(
    good: MapSet, grouping: Grouping, false_alarm: float, valid: Array | None = None
) -> dict[str, Any]:
    """Check each reference map against a model of the others (module docstring).

    Returns the ``calibration`` record: target, estimated realised rate, maps flagged,
    the tail ratio and whether target and realised agree within the tolerance, and the
    left-out maps' scores (largest |z| / z*) under ``"scores"``.
    """
    good = good.subset(np.flatnonzero(~good.empty))
    k = len(good)
    if k < 3:
        return {
            "target": false_alarm,
            "realised": None,
            "maps": k,
            "agrees": None,
            "note": f"{k} reference maps: leave-one-out needs at least 3",
            "scores": [],
        }
    flagged, beyond, expected = 0, 0, 0.0
    scores = np.zeros(k)
    # Leave one out up to MAX_FOLDS maps; beyond, K-fold (every map is left out once).
    folds = min(k, MAX_FOLDS)
    for fold in range(folds):
        out = np.arange(fold, k, folds)
        model = fit_dispersion(good.subset(np.delete(np.arange(k), out)), grouping, valid)
        n_tests = model.n_tests()
        z_star = sidak_z(false_alarm, n_tests)
        # The loose level: about LOO_EXPECTED tests beyond it over the K maps, never inside
        # the prefilter (where exact tails are not computed).
        q = min(LOO_EXPECTED / (n_tests * k), 0.01)
        z_q = max(float(special.ndtri(1.0 - q / 2.0)), PREFILTER_Z + 0.5)
        q = float(2.0 * special.ndtr(-z_q))
        worst, cz, gz = max_significance(model, good.subset(out))
        flagged += int((worst > z_star).sum())
        scores[out] = worst / z_star
        beyond += int((np.abs(cz) > z_q).sum() + (np.abs(gz) > z_q).sum())
        expected += q * n_tests * out.size
    ratio = beyond / expected if expected > 0 else 1.0
    realised = -math.expm1(ratio * math.log1p(-false_alarm))
    # Too many left-out maps flagged for even twice the target (binomial p < 5 %) overrides.
    too_many = stats.binom.sf(flagged - 1, k, CALIBRATION_TOLERANCE * false_alarm) < 0.05
    if flagged and too_many:
        realised = max(realised, flagged / k)
    agrees = 1.0 / CALIBRATION_TOLERANCE <= realised / false_alarm <= CALIBRATION_TOLERANCE
    record: dict[str, Any] = {
        "target": false_alarm,
        "realised": realised,
        "maps": k,
        "maps_flagged": flagged,
        "tail_ratio": ratio,
        "tests_beyond_loose_level": beyond,
        "tests_expected_beyond": expected,
        "agrees": bool(agrees),
        "scores": [float(v) for v in scores],
    }
    record["note"] = calibration_note(record)
    return record


def calibration_note(record: dict[str, Any]) -> str:
    """One line for ``dqm train``'s output and ``check --json``."""
    if record.get("realised") is None:
        return str(record.get("note", "no leave-one-out calibration"))
    head = (
        f"false alarm per map: target {record['target']:.3g}, leave-one-out estimate "
        f"{record['realised']:.3g} (tails ×{record['tail_ratio']:.2f} the model's; "
        f"{record['maps_flagged']}/{record['maps']} reference maps flagged)"
    )
    if record["agrees"]:
        return head
    return (
        head + f"; they disagree by more than {CALIBRATION_TOLERANCE:g}×: the reference maps "
        "vary more (or less) than the model allows — give more reference maps or check them"
    )
