"""Histograms per lepton-flavour channel (ee, μμ): the inputs of the search likelihood.

A channel holds, per bin of the fitted variable (one bin for a cut-and-count
selection, or bins of a classifier score / m_T), the signal and each background
sample: Σw (events at the luminosity), Σw² (its MC statistical variance) and the
number of simulated events.  Events are split by the ``flavour`` observable
(|pdgid| 11 → ``ee``, 13 → ``mumu``), as the thesis' tables 5.4 / 5.5 split them.

The *effective number of events* of a bin, (Σw)²/Σw², is how many equal-weight
simulated events would carry the same relative MC uncertainty; a background
resting on one or two heavy events (an unbiased Drell–Yan event of weight ≈ 1000)
has N_eff ≈ 1–2 whatever its raw event count.  :func:`low_statistics_warnings`
names every bin below a limit and the sample that dominates its Σw².
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from heplearn.search.significance import MIN_EFFECTIVE_EVENTS

if TYPE_CHECKING:
    from heplearn.search.observables import EventTable

__all__ = [
    "CHANNELS",
    "CHANNEL_LABELS",
    "MIN_EFFECTIVE_EVENTS",
    "ChannelHists",
    "SampleHist",
    "binned_channels",
    "low_statistics_warnings",
    "selection_channels",
]

Array = np.ndarray[Any, Any]

#: Channel name → |pdgid| of its two leptons.
CHANNELS = {"ee": 11, "mumu": 13}
CHANNEL_LABELS = {"ee": "ee", "mumu": "μμ", "combined": "ee+μμ"}


@dataclass(frozen=True)
class SampleHist:
    """One sample in one channel: Σw, Σw² and simulated events per bin."""

    yields: Array
    sumw2: Array
    events: Array

    @property
    def effective_events(self) -> Array:
        """(Σw)²/Σw² per bin (0 where the bin is empty)."""
        safe = np.where(self.sumw2 > 0, self.sumw2, 1.0)
        out: Array = np.where(self.sumw2 > 0, self.yields**2 / safe, 0.0)
        return out

    @staticmethod
    def fill(values: Array, weights: Array, edges: Array) -> SampleHist:
        """Histogram ``values`` with ``weights`` into the bins ``edges``."""
        w = np.asarray(weights, np.float64)
        x = np.asarray(values, np.float64)
        yields, _ = np.histogram(x, bins=edges, weights=w)
        sumw2, _ = np.histogram(x, bins=edges, weights=w * w)
        events, _ = np.histogram(x, bins=edges)
        return SampleHist(yields.astype(np.float64), sumw2.astype(np.float64), events)

    def __add__(self, other: SampleHist) -> SampleHist:
        return SampleHist(
            self.yields + other.yields, self.sumw2 + other.sumw2, self.events + other.events
        )


@dataclass(frozen=True)
class ChannelHists:
    """Signal and backgrounds of one channel in the bins ``edges``.

    ``shape_systematics[sample][name] = (up, down)``: the sample's yields per bin with
    that uncertainty at +1σ and −1σ (a ``histosys`` in the likelihood).
    """

    name: str
    edges: Array
    signal: SampleHist
    backgrounds: Mapping[str, SampleHist]
    shape_systematics: Mapping[str, Mapping[str, tuple[Array, Array]]] = field(default_factory=dict)

    @property
    def n_bins(self) -> int:
        return len(self.edges) - 1

    @property
    def background(self) -> SampleHist:
        """All backgrounds summed."""
        zero = SampleHist(np.zeros(self.n_bins), np.zeros(self.n_bins), np.zeros(self.n_bins, int))
        total = zero
        for hist in self.backgrounds.values():
            total = total + hist
        return total

    def summary(self) -> dict[str, float]:
        """s, b, √Σw² of b and simulated events over all bins (for the channel tables)."""
        b = self.background
        return {
            "s": float(self.signal.yields.sum()),
            "b": float(b.yields.sum()),
            "b_mc_error": float(b.sumw2.sum()) ** 0.5,
            "n_signal_events": float(self.signal.events.sum()),
            "n_background_events": float(b.events.sum()),
        }


def binned_channels(
    table: EventTable,
    values: Array,
    edges: Array,
    keep: Array | None = None,
) -> list[ChannelHists]:
    """ee and μμ histograms of ``values`` (one per event of ``table``) in the bins ``edges``.

    ``table`` holds the backgrounds and one signal sample (as
    :func:`~heplearn.search.signal_points.point_events` gives); ``keep`` restricts the
    events (a selection).  Evaluation weights are used as they are, negatives included.
    A channel with no events at all is left out.
    """
    names = table.sample_names
    flavour = np.rint(table.column("flavour")).astype(int)
    keep_mask = np.ones(len(table), bool) if keep is None else np.asarray(keep, bool)
    signal = table.is_signal.astype(bool)
    edges = np.asarray(edges, np.float64)
    out = []
    for channel, pdg in CHANNELS.items():
        mine = keep_mask & (flavour == pdg)
        if not np.any(flavour == pdg):
            continue
        sig = mine & signal
        backgrounds = {}
        for index in np.unique(table.sample[~signal]):
            sample = names[int(index)] if index < len(names) else f"sample_{int(index)}"
            events = mine & ~signal & (table.sample == index)
            backgrounds[sample] = SampleHist.fill(values[events], table.weight[events], edges)
        hist = SampleHist.fill(values[sig], table.weight[sig], edges)
        out.append(ChannelHists(channel, edges, hist, backgrounds))
    return out


def selection_channels(table: EventTable, selected: Array) -> list[ChannelHists]:
    """One-bin ee and μμ channels of the events with ``selected`` True (a cut-and-count)."""
    return binned_channels(table, np.zeros(len(table)), np.array([-0.5, 0.5]), selected)


def _dominant(channel: ChannelHists, bin_index: int) -> tuple[str, float]:
    """The background sample with the largest Σw² in a bin, and its share of the bin's Σw²."""
    shares = {name: float(h.sumw2[bin_index]) for name, h in channel.backgrounds.items()}
    total = sum(shares.values())
    name = max(shares, key=lambda n: shares[n])
    return name, shares[name] / total if total > 0 else 0.0


def low_statistics_warnings(
    channels: list[ChannelHists], limit: float = MIN_EFFECTIVE_EVENTS, what: str = ""
) -> list[str]:
    """One line per background bin whose (Σw)²/Σw² is below ``limit``, naming its sample.

    ``what`` prefixes each line (the signal point and method).
    """
    lines = []
    for channel in channels:
        b = channel.background
        n_eff = b.effective_events
        for i in range(channel.n_bins):
            if b.events[i] == 0 or n_eff[i] >= limit:
                continue
            sample, share = _dominant(channel, i)
            where = f"bin {i + 1} of " if channel.n_bins > 1 else ""
            lines.append(
                f"{what}{where}channel {CHANNEL_LABELS[channel.name]}: background "
                f"b = {b.yields[i]:.3g} ± {b.sumw2[i] ** 0.5:.2g} rests on "
                f"{n_eff[i]:.1f} effective simulated events ({int(b.events[i])} events; "
                f"below {limit:g}); {sample} gives {share:.0%} of its Σw²"
            )
    return lines
