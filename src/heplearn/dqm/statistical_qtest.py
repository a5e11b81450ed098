"""``qtest`` with thresholds from a statistical model (``qtest.thresholds: model``).

Fitted on good reference maps (5–50 suffice): :mod:`heplearn.dqm.dispersion` models each
channel and each group, :mod:`heplearn.dqm.look_elsewhere` turns the false-alarm
probability per map into one significance threshold z* and measures it by
leave-one-out.  A map fails when a channel or a group is beyond z*:

- flagged channels: those beyond z* on their own, and the live members of a failing
  group deviating on the group's side by more than ``MEMBER_Z`` σ;
- ``groups``: the names of the failing groups, largest first, leaving out those inside
  a named one (a missing supermodule, not its 68 towers);
- score: the largest |z| / z* (> 1 fails);
- no-statistics: a map whose median live channel expects fewer than
  ``MIN_MEDIAN_EXPECTED`` hits cannot tell a dead channel from a fluctuation;
- warnings: a map whose robust luminosity lies more than ``LUMI_MARGIN`` (relative)
  outside the reference maps' range [lo, hi] is judged with a luminosity response
  extrapolated beyond what the reference saw (at 1.9 against a reference up to 1.45
  this gave 13 % false alarms on HCAL maps); its verdict is kept and a warning says
  so, naming the range and the fix (reference maps at that luminosity).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from heplearn.dqm.dispersion import Dispersion, fit_dispersion
from heplearn.dqm.groups import Grouping, check_coverage, resolve_geometry
from heplearn.dqm.look_elsewhere import calibration_note, leave_one_out, sidak_z
from heplearn.dqm.lumi_response import LumiResponse
from heplearn.dqm.maps import MapSet
from heplearn.dqm.reference import Reference
from heplearn.dqm.verdict import verdict_from_channels

__all__ = [
    "LUMI_MARGIN",
    "MEMBER_Z",
    "MIN_MEDIAN_EXPECTED",
    "StatisticalTests",
    "TestResult",
    "lumi_warnings",
]

Array = np.ndarray[Any, Any]

#: A failing group's members deviating this much on its side are flagged with it.
MEMBER_Z = 3.0
#: Below this many expected hits in the median live channel a map gets "no-statistics".
MIN_MEDIAN_EXPECTED = 1.0
#: Maps evaluated at once (a few float64 (maps × channels) arrays).
BATCH = 64
#: Failing groups named per map, at most.
MAX_GROUPS = 20
#: A map's luminosity beyond hi·(1 + margin) or below lo/(1 + margin) is an extrapolation
#: (HCAL maps 10 % beyond the reference's pile-up start to fail: bench/dqm_ecal_sim.py notes).
LUMI_MARGIN = 0.1


@dataclass(frozen=True)
class TestResult:
    """What the statistical tests say about N maps."""

    score: Array  # (N,) largest |z| / z*
    flags: Array  # (N, H, W, D) bool
    significance: Array  # (N, H, W, D) float32 |z| per channel
    normalised: Array  # (N, H, W, D) counts / expected
    groups: list[list[str]]  # failing groups per map
    no_statistics: list[str | None]  # reason per map, None when it has statistics
    warnings: list[list[str]]  # per map: what the verdict should be read with


def lumi_warnings(
    lumi: Array, lumi_range: tuple[float, float] | None, what: str = "luminosity"
) -> list[list[str]]:
    """Per map, a warning when its luminosity (or ``what``) lies outside ``lumi_range``
    by > LUMI_MARGIN."""
    if lumi_range is None:  # a run saved before the range was kept
        return [[] for _ in lumi]
    lo, hi = lumi_range
    out: list[list[str]] = []
    for value in np.asarray(lumi, dtype=np.float64):
        outside = value > hi * (1 + LUMI_MARGIN) or 0 < value < lo / (1 + LUMI_MARGIN)
        out.append(
            [
                f"{what} {value:.3g} lies outside the reference maps' range "
                f"[{lo:.3g}, {hi:.3g}] by more than {LUMI_MARGIN:.0%}: the verdict extrapolates "
                "the luminosity response beyond the reference; add reference maps at this "
                "luminosity"
            ]
            if outside
            else []
        )
    return out


class StatisticalTests:
    """The fitted model, its threshold and its leave-one-out calibration."""

    def __init__(self, model: Dispersion, false_alarm: float, calibration: dict[str, Any]):
        self.model = model
        self.false_alarm = false_alarm
        self.z_star = sidak_z(false_alarm, model.n_tests())
        self.calibration = calibration
        self._cache: tuple[MapSet | None, TestResult | None] = (None, None)

    @classmethod
    def fit(cls, good: MapSet, geometry: str | None, false_alarm: float) -> StatisticalTests:
        grouping = resolve_geometry(geometry, good.shape)
        model = fit_dispersion(good, grouping)
        if geometry not in (None, "blocks", "ecal-barrel", "hcal"):
            check_coverage(grouping, model.reference.mask, str(geometry))
        calibration = leave_one_out(good, grouping, false_alarm)
        return cls(model, false_alarm, calibration)

    @property
    def reference(self) -> Reference:
        return self.model.reference

    def note(self) -> str:
        return calibration_note(self.calibration)

    def calibration_record(self) -> dict[str, Any]:
        """The ``calibration`` field of ``check --json``."""
        keep = ("target", "realised", "maps", "maps_flagged", "tail_ratio", "agrees", "note")
        return {k: self.calibration[k] for k in keep if k in self.calibration}

    def _name_groups(self, bad: Array, strength: Array) -> list[str]:
        """Failing groups, largest (then most significant) first, without those inside another."""
        members = self.model.grouping.members
        sizes = np.diff(members.indptr)[bad]
        named: list[str] = []
        covered: set[int] = set()
        for g in bad[np.lexsort((-strength, -sizes))]:
            chans = set(members.indices[members.indptr[g] : members.indptr[g + 1]].tolist())
            if chans <= covered:
                continue  # a tower of a failing supermodule says nothing new
            covered |= chans
            named.append(self.model.grouping.names[g])
            if len(named) == MAX_GROUPS:
                break
        return named

    def _batch(self, maps: MapSet) -> TestResult:
        m, n = self.model, len(maps)
        lumi = m.luminosity(maps)
        level = m.level(maps, lumi)  # a map without an event count is fitted once, not thrice
        cz, mean = m.channel_z(maps, lumi, level)
        gz = m.group_z(maps, lumi, level)
        z = self.z_star
        flags = np.abs(cz) > z
        failing = np.abs(gz) > z
        groups = []
        for i in range(n):
            bad = np.flatnonzero(failing[i])
            groups.append(self._name_groups(bad, np.abs(gz[i, bad])))
            members = m.grouping.members
            for g in bad:
                chans = members.indices[members.indptr[g] : members.indptr[g + 1]]
                side = np.sign(gz[i, g]) * cz[i, chans] > MEMBER_Z
                flags[i, chans[side]] = True
        flags &= m.live[None, :]
        score = np.maximum(np.abs(cz).max(axis=1, initial=0.0), np.abs(gz).max(axis=1, initial=0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            counts = maps.counts.reshape(n, -1)
            normalised = np.where(mean > 0, counts / mean, 0.0)
        live_mean = mean[:, m.live]
        median = np.median(live_mean, axis=1) if live_mean.shape[1] else np.zeros(n)
        reasons = [
            None
            if med >= MIN_MEDIAN_EXPECTED
            else f"the median live channel expects {med:.2g} hits (< {MIN_MEDIAN_EXPECTED:g}): "
            "too few entries to tell a dead channel from a fluctuation"
            for med in median
        ]
        shape = maps.counts.shape
        return TestResult(
            (score / z).astype(np.float32),
            flags.reshape(shape),
            np.abs(cz).reshape(shape).astype(np.float32),
            normalised.reshape(shape).astype(np.float32),
            groups,
            reasons,
            lumi_warnings(
                level,
                m.lumi_range,
                "hits per event (pile-up)" if m.response_per_event else "luminosity",
            ),
        )

    def evaluate(self, maps: MapSet) -> TestResult:
        """Scores, flags, failing groups and statistics of ``maps`` (the last call is cached)."""
        cached_maps, cached = self._cache
        if cached_maps is maps and cached is not None:
            return cached
        self.reference.check(maps)
        parts = [self._batch(maps.subset(slice(i, i + BATCH))) for i in range(0, len(maps), BATCH)]
        if not parts:
            parts = [self._batch(maps)]
        result = TestResult(
            np.concatenate([p.score for p in parts]),
            np.concatenate([p.flags for p in parts]),
            np.concatenate([p.significance for p in parts]),
            np.concatenate([p.normalised for p in parts]),
            [g for p in parts for g in p.groups],
            [r for p in parts for r in p.no_statistics],
            [w for p in parts for w in p.warnings],
        )
        self._cache = (maps, result)
        return result

    def predict_class(self, maps: MapSet) -> Array:
        result = self.evaluate(maps)
        return verdict_from_channels(result.normalised, result.flags)

    # ---- persistence (inside the qtest model's files) ----

    def to_arrays(self) -> dict[str, Array]:
        m = self.model
        return {
            **m.reference.to_arrays(),
            **m.grouping.to_arrays(),
            "model.rate": m.rate,
            "model.slope": m.response.slope,
            "model.slope_var": m.response.slope_var,
            "model.alpha": m.alpha,
            "model.alpha_sd": m.alpha_sd,
            "model.group_rate": m.group_rate,
            "model.group_alpha": m.group_alpha,
            "model.group_alpha_sd": m.group_alpha_sd,
        }

    def to_meta(self) -> dict[str, Any]:
        return {
            "false_alarm": self.false_alarm,
            "z_star": self.z_star,
            "n_tests": self.model.n_tests(),
            "reference_maps": self.model.n_maps,
            "log_lumi0": self.model.response.log_lumi0,
            "response_per_event": self.model.response_per_event,
            "pattern_offset": self.model.pattern_offset,
            "pattern_gain": self.model.pattern_gain,
            "reference_lumi_range": (
                None if self.model.lumi_range is None else list(self.model.lumi_range)
            ),
            "grouping": self.model.grouping.to_meta(),
            "calibration": self.calibration,
        }

    @classmethod
    def restore(cls, meta: dict[str, Any], arrays: dict[str, Array]) -> StatisticalTests:
        grouping = Grouping.restore(meta["grouping"], arrays)
        reference = Reference.from_arrays(arrays)
        n_channels = reference.rate.size
        # Runs saved before the luminosity response existed: linear in L.
        response = LumiResponse(
            float(meta.get("log_lumi0", 0.0)),
            np.asarray(arrays.get("model.slope", np.zeros(n_channels))),
            np.asarray(arrays.get("model.slope_var", np.zeros(n_channels))),
        )
        model = Dispersion(
            reference,
            np.asarray(arrays.get("model.rate", reference.rate.reshape(-1))),
            response,
            np.asarray(arrays["model.alpha"]),
            np.asarray(arrays["model.alpha_sd"]),
            np.asarray(arrays["model.group_rate"]),
            np.asarray(arrays["model.group_alpha"]),
            np.asarray(arrays["model.group_alpha_sd"]),
            grouping,
            int(meta["reference_maps"]),
            _lumi_range(meta.get("reference_lumi_range")),
            bool(meta.get("response_per_event", False)),
            float(meta.get("pattern_offset", 0.0)),
            float(meta.get("pattern_gain", 1.0)),
        )
        return cls(model, float(meta["false_alarm"]), dict(meta["calibration"]))


def _lumi_range(value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    lo, hi = value
    return float(lo), float(hi)
