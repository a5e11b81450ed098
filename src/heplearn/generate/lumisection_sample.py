"""What the HCAL and ECAL map samples share: shards of lumisections in the runs of fills."""

from __future__ import annotations

from collections.abc import Iterable

from heplearn.detector.occupancy.lumi import RunPlan
from heplearn.errors import ConfigError

__all__ = ["LumisectionSample"]


class LumisectionSample:
    """Shards, the run plan and [low, high] range checks of a map sample config.

    A mixin for the frozen config dataclasses, which declare these fields with their own
    defaults (an HCAL and an ECAL fill differ).
    """

    events: int
    shard_events: int
    seed: int
    lumisections_per_run: int
    first_run: int
    events_per_ls: tuple[float, float]
    peak_lumi: tuple[float, float]
    lumi_lifetime_h: float

    @property
    def n_shards(self) -> int:
        return -(-self.events // self.shard_events)

    def run_plan(self) -> RunPlan:
        return RunPlan(
            seed=self.seed,
            lumisections_per_run=self.lumisections_per_run,
            events_per_ls=self.events_per_ls,
            peak_lumi=self.peak_lumi,
            lifetime_h=self.lumi_lifetime_h,
            first_run=self.first_run,
        )

    def check_ranges(self, names: Iterable[str], where: str) -> None:
        """Refuse a [low, high] setting given as [high, low]."""
        for name in names:
            low, high = getattr(self, name)
            if low > high:
                raise ConfigError(
                    f"field '{name}'", where, f"[{low}, {high}] is not [low, high]", "swap them"
                )
