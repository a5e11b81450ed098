"""The classical quality tests as a model (``qtest``): unsupervised, any map shape.

``fit`` builds the :class:`Reference` from the good training maps (all maps when
unlabelled, e.g. a user's ROOT file) and picks on the good validation maps the
thresholds of the four tests of :mod:`heplearn.dqm.qtests` so that together at
most ``qtest.false_flag_rate`` of good maps fail (each test gets a quarter).
The |pull| threshold never goes below ``min_pull_threshold``; the dead test
needs at least ``dead_significance²`` expected hits (a Poisson zero then has
p < exp(−s²)).

- ``anomaly_score`` = max over tests of statistic / threshold (> 1: a test fails);
- ``score_channels`` = |pull|, divided by the channel's pull RMS over the good
  training maps (``qtest.calibrate_pulls``), which absorbs the response drifts
  across runs that a single reference cannot follow;
- ``flag_channels`` = |pull| > pull threshold, or dead (0 hits, expected above the
  dead threshold), or a member of a failing k×k window (:mod:`..region_tests`:
  pooled mean pull and pooled spread, for mild faults spread over a region);
- ``predict_class``: :func:`verdict_from_channels` on the flagged channels; a map
  failing only χ² or KS (no single channel out) is "noisy" (raised spread).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from heplearn.dqm.labels import CLASS_NAMES
from heplearn.dqm.maps import MapSet, check_counts
from heplearn.dqm.metrics import false_alarm_resolution, threshold_for_rate
from heplearn.dqm.models.base import MapModel, read_model_files, write_model_files
from heplearn.dqm.qtests import N_TESTS, MapStatistics, map_statistics
from heplearn.dqm.reference import Reference, fit_reference
from heplearn.dqm.region_tests import RegionStatistics, region_flags, region_statistics
from heplearn.dqm.statistical_qtest import StatisticalTests
from heplearn.dqm.verdict import verdict_from_channels
from heplearn.errors import DataError

__all__ = ["QTestModel"]

#: Maps processed at once (bounds memory: a few float64 copies of each batch).
BATCH = 256
_NOISY = CLASS_NAMES.index("noisy")


def _join(a: MapSet, b: MapSet) -> MapSet:
    labelled = a.map_class is not None and b.map_class is not None
    return MapSet(
        counts=np.concatenate([a.counts, b.counts]),
        n_events=np.concatenate([a.n_events, b.n_events]),
        map_class=np.concatenate([a.map_class, b.map_class]) if labelled else None,
        channel_class=(
            np.concatenate([a.channel_class, b.channel_class])
            if a.channel_class is not None and b.channel_class is not None
            else None
        ),
        names=a.names + b.names,
    )


def _good(maps: MapSet) -> MapSet:
    keep = ~maps.empty
    if maps.map_class is not None:
        keep &= maps.map_class == 0
    return maps.subset(np.flatnonzero(keep))


class QTestModel(MapModel):
    """CMS-style dead / hot (pull) / χ² / KS tests against a reference."""

    name: ClassVar[str] = "qtest"
    supervised: ClassVar[bool] = False

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.reference: Reference | None = None
        self.pull_scale: np.ndarray[Any, np.dtype[np.float32]] | None = None
        self.thresholds: dict[str, float] = {}
        self.resolution: dict[str, Any] = {}  # what the good validation maps could resolve
        self._cache: tuple[MapSet | None, list[Any]] = (None, [])
        self.statistical: StatisticalTests | None = None  # thresholds: model

    @property
    def needs_validation(self) -> bool:
        return bool(self.config.qtest.thresholds == "validation")

    def failing_groups(self, maps: MapSet) -> list[list[str]]:
        if self.statistical is None:
            return super().failing_groups(maps)
        return self.statistical.evaluate(maps).groups

    def no_statistics(self, maps: MapSet) -> list[str | None]:
        if self.statistical is None:
            return super().no_statistics(maps)
        return self.statistical.evaluate(maps).no_statistics

    def map_warnings(self, maps: MapSet) -> list[list[str]]:
        if self.statistical is None:
            return super().map_warnings(maps)
        return self.statistical.evaluate(maps).warnings

    def calibration(self) -> dict[str, Any] | None:
        return None if self.statistical is None else self.statistical.calibration_record()

    def left_out_scores(self) -> np.ndarray[Any, np.dtype[np.float32]] | None:
        if self.statistical is None:
            return None
        return np.asarray(self.statistical.calibration.get("scores", []), dtype=np.float32)

    def _ready(self, maps: MapSet) -> Reference:
        if self.statistical is not None:
            check_counts(maps, "maps to check")
            self.statistical.reference.check(maps)
            return self.statistical.reference
        if self.reference is None:
            raise RuntimeError("qtest model used before fit/load")
        check_counts(maps, "maps to check")
        self.reference.check(maps)
        return self.reference

    def _stats(self, maps: MapSet) -> list[tuple[slice, MapStatistics, RegionStatistics | None]]:
        """Statistics per batch; window statistics once the channel thresholds are known.

        The last map set's statistics are kept: check and evaluate ask for scores,
        flags and classes of the same maps in turn.
        """
        cached_maps, cached = self._cache
        if cached_maps is maps:
            return cached
        reference = self._ready(maps)
        batches = []
        for sl in (slice(i, i + BATCH) for i in range(0, len(maps), BATCH)):
            s = map_statistics(maps.subset(sl), reference, self.pull_scale)
            batches.append((sl, s, self._region(s)))
        if "pull" in self.thresholds:  # fitted: statistics no longer change
            self._cache = (maps, batches)
        return batches

    def _channel_flags(self, s: MapStatistics) -> np.ndarray[Any, np.dtype[np.bool_]]:
        t = self.thresholds
        return np.asarray((np.abs(s.pulls) > t["pull"]) | (s.zero & (s.expected > t["dead"])))

    def _windows(self, s: MapStatistics) -> RegionStatistics:
        assert self.reference is not None
        # Windows pool what the channel tests cannot see: strong channels are left out.
        live = self.reference.mask & ~self._channel_flags(s)
        return region_statistics(s.pulls, live, self.config.qtest.region_size)

    def _region(self, s: MapStatistics) -> RegionStatistics | None:
        if not self.config.qtest.region_size or "region_mean" not in self.thresholds:
            return None
        return self._windows(s)

    def _fit_pull_scale(self, good: MapSet) -> None:
        """Per-channel pull RMS over good maps, floored at 1 (never tighter than statistics)."""
        self.pull_scale = None
        squares = np.zeros(good.counts.shape[1:], np.float64)
        for _, s, _ in self._stats(good):
            squares += (s.pulls.astype(np.float64) ** 2).sum(axis=0)
        rms = np.sqrt(squares / max(len(good), 1))
        self.pull_scale = np.maximum(rms, 1.0).astype(np.float32)

    def fit(self, train: MapSet, val: MapSet, run_dir: Path, *, progress: bool = False) -> None:
        settings = self.config.qtest
        check_counts(train, "training maps")
        if settings.thresholds == "model":
            # Every good map is a reference map: no thresholds are set on validation maps.
            good = _good(train) if len(val) == 0 else _good(_join(train, val))
            self.statistical = StatisticalTests.fit(good, settings.geometry, settings.false_alarm)
            self.reference = self.statistical.reference
            self._cache = (None, [])
            return
        self.reference = fit_reference(train)
        self.thresholds = {}
        self._cache = (None, [])
        if settings.calibrate_pulls:
            self._fit_pull_scale(_good(train))
        good_val = _good(val)
        if len(good_val) == 0:
            raise DataError(
                "no good validation maps",
                "validation maps",
                "the quality-test thresholds are chosen on good validation maps",
                "give more maps or raise val_fraction",
            )
        parts = [s for _, s, _ in self._stats(good_val)]
        stat = {
            key: np.concatenate([getattr(p, key) for p in parts])
            for key in ("max_pull", "dead_stat", "chi2_ndf", "ks")
        }
        rate = settings.false_flag_rate / (N_TESTS + (2 if settings.region_size else 0))
        # Below 1/N per test the thresholds sit at the largest good value: say so in the model.
        self.resolution = {"per_test_rate": rate, **false_alarm_resolution(len(good_val), (rate,))}
        pull_t = (
            settings.pull_threshold
            if settings.pull_threshold is not None
            else threshold_for_rate(stat["max_pull"], rate, settings.min_pull_threshold)
        )
        self.thresholds = {
            "pull": float(pull_t),
            "dead": threshold_for_rate(stat["dead_stat"], rate, settings.dead_significance**2),
            "chi2_ndf": threshold_for_rate(stat["chi2_ndf"], rate, 1.0),
            "ks": threshold_for_rate(stat["ks"], rate, 1.0),
        }
        if settings.region_size:
            regions = [self._windows(p) for p in parts]
            floor = settings.min_pull_threshold
            self.thresholds["region_mean"] = threshold_for_rate(
                np.concatenate([r.max_mean for r in regions]), rate, floor
            )
            self.thresholds["region_spread"] = threshold_for_rate(
                np.concatenate([r.max_spread for r in regions]), rate, floor
            )

    def _score(
        self, s: MapStatistics, region: RegionStatistics | None
    ) -> np.ndarray[Any, np.dtype[np.float32]]:
        t = self.thresholds
        tests = [
            s.max_pull / t["pull"],
            s.dead_stat / t["dead"],
            s.chi2_ndf / t["chi2_ndf"],
            s.ks / t["ks"],
        ]
        if region is not None:
            tests += [region.max_mean / t["region_mean"], region.max_spread / t["region_spread"]]
        return np.asarray(np.stack(tests).max(axis=0), dtype=np.float32)

    def _flags(
        self, s: MapStatistics, region: RegionStatistics | None
    ) -> np.ndarray[Any, np.dtype[np.bool_]]:
        flags = self._channel_flags(s)
        if region is not None and self.reference is not None:
            settings = self.config.qtest
            members = region_flags(
                s.pulls,
                region,
                size=settings.region_size,
                mean_threshold=self.thresholds["region_mean"],
                spread_threshold=self.thresholds["region_spread"],
                member_pull=settings.region_member_pull,
            )
            flags = flags | (members & self.reference.mask)
        return np.asarray(flags)

    def anomaly_score(self, maps: MapSet) -> np.ndarray[Any, np.dtype[np.float32]]:
        if self.statistical is not None:
            self._ready(maps)
            return self.statistical.evaluate(maps).score
        out = np.zeros(len(maps), np.float32)
        for sl, s, region in self._stats(maps):
            out[sl] = self._score(s, region)
        return out

    def score_channels(self, maps: MapSet) -> np.ndarray[Any, np.dtype[np.float32]]:
        if self.statistical is not None:
            self._ready(maps)
            return self.statistical.evaluate(maps).significance
        out = np.zeros(maps.counts.shape, np.float32)
        for sl, s, _ in self._stats(maps):
            out[sl] = np.abs(s.pulls)
        return out

    def flag_channels(self, maps: MapSet) -> np.ndarray[Any, np.dtype[np.bool_]]:
        if self.statistical is not None:
            self._ready(maps)
            return self.statistical.evaluate(maps).flags
        out = np.zeros(maps.counts.shape, bool)
        for sl, s, region in self._stats(maps):
            out[sl] = self._flags(s, region)
        return out

    def predict_class(self, maps: MapSet) -> np.ndarray[Any, np.dtype[np.int64]]:
        if self.statistical is not None:
            self._ready(maps)
            return self.statistical.predict_class(maps)
        out = np.zeros(len(maps), np.int64)
        for sl, s, region in self._stats(maps):
            flags = self._flags(s, region)
            # The strongest evidence names the fault: channels failing on their own, when any.
            strong = self._channel_flags(s)
            has_strong = np.asarray(strong.reshape(strong.shape[0], -1).any(axis=1))
            evidence = np.where(has_strong[:, None, None, None], strong, flags)
            classes = verdict_from_channels(s.normalised, evidence)
            # A map failing only the map-level tests has a raised spread, no single bad channel.
            failing = self._score(s, region) > 1.0
            no_channel = ~flags.reshape(flags.shape[0], -1).any(axis=1)
            classes[failing & no_channel] = _NOISY
            out[sl] = classes
        return out

    def save(self, folder: Path) -> None:
        if self.statistical is not None:
            meta = {**self.base_meta(), "statistical": self.statistical.to_meta()}
            write_model_files(folder, meta, self.statistical.to_arrays())
            return
        if self.reference is None:
            raise RuntimeError("qtest model saved before fit")
        meta = {**self.base_meta(), "thresholds": self.thresholds, "resolution": self.resolution}
        arrays = self.reference.to_arrays()
        if self.pull_scale is not None:
            arrays["qtest.pull_scale"] = self.pull_scale
        write_model_files(folder, meta, arrays)

    @classmethod
    def load(cls, folder: Path) -> QTestModel:
        meta, arrays = read_model_files(folder, expected=cls.name)
        model = cls(cls.config_from_meta(meta, folder))
        model.restore_base(meta)
        if "statistical" in meta:
            model.statistical = StatisticalTests.restore(meta["statistical"], arrays)
            model.reference = model.statistical.reference
            return model
        model.reference = Reference.from_arrays(arrays)
        model.pull_scale = arrays.get("qtest.pull_scale")
        model.thresholds = {k: float(v) for k, v in meta["thresholds"].items()}
        model.resolution = dict(meta.get("resolution", {}))
        return model
