"""The search's profile likelihood: a HistFactory model on pyhf, its significance and limits.

From the ee and μμ histograms of :mod:`heplearn.search.channels` (one bin for a
selection, or bins of a score), :func:`build_workspace` writes the pyhf JSON
workspace (schema ``workspace.json``, version 1.0.0):

- the signal sample scaled by the signal strength μ (``normfactor``, the POI);
- each background sample with ``staterror`` (the MC statistical uncertainty of every
  bin from Σw², Barlow–Beeston-lite: one γ per bin shared by the backgrounds), a
  ``normsys`` normalisation uncertainty (default 10 %, the σ_b of the Asimov
  figures; uncorrelated between samples, correlated between channels), and
  ``histosys`` shape uncertainties given as up/down histograms;
- a ``lumi`` uncertainty (default 1.7 %, ATLAS Run 2) on every sample;
- as observations, the data histogram if given, else the background-only expectation.

:func:`fit_workspace` gives the expected discovery significance (√q₀ on the Asimov
dataset with μ = 1 and nominal nuisance parameters, Cowan et al. 2011), the expected
95 % CLs upper limit on μ with its ±1σ / ±2σ band (q̃_μ, asymptotic, on the
background-only Asimov data), and with data the observed Z and limit.

On one bin without MC-stat and normalisation uncertainties, Z equals
:func:`~heplearn.search.significance.asimov_z` (σ_b = 0) to rounding.  The σ_b form
of that formula is the model with a *Poisson*-constrained background (an auxiliary
count); the Gaussian-constrained ``normsys`` here gives a slightly larger Z when
s/b is not small: +0.1 % at s/b = 0.01, +1.5 % at s/b = 0.1 (σ_b = 10 %).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.errors import DataError
from heplearn.search.channels import CHANNEL_LABELS, ChannelHists, SampleHist
from heplearn.search.cls_limits import (
    UnstableError,
    limits_from_scan,
    model_of,
    mu_estimate,
    pyhf_module,
    q0_z,
)

__all__ = [
    "LUMINOSITY_UNCERTAINTY",
    "POI",
    "FitError",
    "LikelihoodResult",
    "Uncertainties",
    "Workspace",
    "build_workspace",
    "fit_workspace",
]

Array = np.ndarray[Any, Any]

#: Relative luminosity uncertainty of the ATLAS Run 2 dataset (139 fb⁻¹).
LUMINOSITY_UNCERTAINTY = 0.017
#: The parameter of interest: the signal strength.
POI = "mu"


class FitError(RuntimeError):
    """pyhf's minimiser did not converge on a workspace."""


@dataclass(frozen=True)
class Uncertainties:
    """Which uncertainties the likelihood has (relative sizes; 0 switches one off)."""

    mc_stat: bool = True
    normalisation: float = 0.10
    #: Normalisation uncertainty of named background samples, overriding ``normalisation``.
    per_sample: Mapping[str, float] = field(default_factory=dict)
    luminosity: float = LUMINOSITY_UNCERTAINTY

    def of(self, sample: str) -> float:
        return float(self.per_sample.get(sample, self.normalisation))


@dataclass(frozen=True)
class Workspace:
    """A pyhf workspace (``spec``, plain JSON) and what building it had to change."""

    spec: dict[str, Any]
    warnings: list[str]
    #: True when the observations are the background-only expectation (no data given).
    asimov: bool

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(self.spec, indent=1, allow_nan=False), encoding="utf-8")
        return path


def _clipped(hist: SampleHist, what: str, notes: list[str]) -> SampleHist:
    """``hist`` with negative bins set to 0, and a warning saying how much was clipped."""
    negative = hist.yields < 0
    if not np.any(negative):
        return hist
    removed = float(-hist.yields[negative].sum())
    total = float(hist.yields[~negative].sum())
    notes.append(
        f"{what}: {int(negative.sum())} bin(s) with negative content after negative weights "
        f"clipped to 0 ({removed:.3g} events removed; {total:.3g} events remain)"
    )
    return SampleHist(np.where(negative, 0.0, hist.yields), hist.sumw2, hist.events)


def _observed_counts(
    channel: ChannelHists, observed: Mapping[str, tuple[Array, Array]], where: str
) -> Array:
    if channel.name not in observed:
        raise DataError(
            f"no data histogram for channel {CHANNEL_LABELS[channel.name]}",
            where,
            f"data is given for {', '.join(observed) or 'no channel'}",
            "give data for every channel of the model",
        )
    edges, counts = (np.asarray(a, np.float64) for a in observed[channel.name])
    if edges.shape != channel.edges.shape or not np.allclose(edges, channel.edges):
        raise DataError(
            "data histogram with other binning",
            where,
            f"channel {CHANNEL_LABELS[channel.name]}: the data has {len(edges) - 1} bins "
            f"{edges.tolist()[:4]}…, the model {channel.n_bins} bins {channel.edges.tolist()[:4]}…",
            "histogram the data with the model's bin edges",
        )
    if counts.shape != (channel.n_bins,) or np.any(counts < 0) or not np.all(np.isfinite(counts)):
        raise DataError(
            "bad data histogram",
            where,
            f"channel {CHANNEL_LABELS[channel.name]}: counts {counts.tolist()[:6]}",
            f"give {channel.n_bins} finite non-negative counts",
        )
    return counts


def _samples(
    channel: ChannelHists, keep: Array, signal: SampleHist, backgrounds: dict[str, SampleHist],
    uncertainties: Uncertainties,
) -> list[dict[str, Any]]:  # fmt: skip
    lumi = [{"name": "lumi", "type": "lumi", "data": None}] if uncertainties.luminosity > 0 else []
    samples = [
        {
            "name": "signal",
            "data": signal.yields[keep].tolist(),
            "modifiers": [{"name": POI, "type": "normfactor", "data": None}, *lumi],
        }
    ]
    for name, hist in backgrounds.items():
        modifiers: list[dict[str, Any]] = [*lumi]
        sigma = uncertainties.of(name)
        if sigma > 0:
            data = {"hi": 1.0 + sigma, "lo": max(1.0 - sigma, 1e-3)}
            modifiers.append({"name": f"norm_{name}", "type": "normsys", "data": data})
        if uncertainties.mc_stat:
            error = np.sqrt(np.maximum(hist.sumw2[keep], 0.0))
            modifiers.append(
                {"name": f"staterror_{channel.name}", "type": "staterror", "data": error.tolist()}
            )
        for syst, (up, down) in channel.shape_systematics.get(name, {}).items():
            data = {
                "hi_data": np.asarray(up, np.float64)[keep].tolist(),
                "lo_data": np.asarray(down, np.float64)[keep].tolist(),
            }
            modifiers.append({"name": syst, "type": "histosys", "data": data})
        samples.append({"name": name, "data": hist.yields[keep].tolist(), "modifiers": modifiers})
    return samples


def build_workspace(
    channels: Sequence[ChannelHists],
    uncertainties: Uncertainties | None = None,
    observed: Mapping[str, tuple[Array, Array]] | None = None,
    where: str = "the likelihood inputs",
) -> Workspace:
    """The pyhf workspace of ``channels`` (see module doc); ``observed[channel] = (edges, counts)``.

    Raises DataError for a signal with zero expected events in every bin, a model without
    background in any bin, and a data histogram with other binning.  Negative bins are
    clipped to 0 and bins without background are left out, each with a warning.
    """
    uncertainties = uncertainties or Uncertainties()
    notes: list[str] = []
    spec_channels: list[dict[str, Any]] = []
    observations: list[dict[str, Any]] = []
    for channel in channels:
        label = CHANNEL_LABELS[channel.name]
        signal = _clipped(channel.signal, f"channel {label}, signal", notes)
        backgrounds = {
            name: _clipped(hist, f"channel {label}, {name}", notes)
            for name, hist in channel.backgrounds.items()
        }
        b = np.sum([h.yields for h in backgrounds.values()], axis=0) if backgrounds else None
        keep = (b > 0) if b is not None else np.zeros(channel.n_bins, bool)
        lost = (~keep) & (signal.yields > 0)
        if np.any(lost):
            notes.append(
                f"channel {label}: {int(lost.sum())} bin(s) with signal "
                f"({signal.yields[lost].sum():.3g} events) but no simulated background are "
                "left out of the likelihood"
            )
        counts = _observed_counts(channel, observed, where) if observed is not None else b
        if not np.any(keep):
            continue
        spec_channels.append(
            {
                "name": channel.name,
                "samples": _samples(channel, keep, signal, backgrounds, uncertainties),
            }
        )
        observations.append({"name": channel.name, "data": np.asarray(counts)[keep].tolist()})
    s_total = sum(float(np.sum(c["samples"][0]["data"])) for c in spec_channels)
    if not s_total > 0:
        total = sum(float(np.clip(c.signal.yields, 0, None).sum()) for c in channels)
        raise DataError(
            "signal with zero expected events in every bin",
            where,
            f"Σs = {total:.3g} over {sum(c.n_bins for c in channels)} bins "
            f"of {', '.join(CHANNEL_LABELS[c.name] for c in channels) or 'no channel'}"
            + (" (none where there is background)" if total > 0 else ""),
            "check the signal sample's weights, or choose a selection that keeps signal",
        )
    # μ's bound leaves room for the limit scan (which starts near the rough estimate) and for
    # μ = 1, where the fits start (scipy's minimiser does not move far from a tiny start).
    signal_yields = np.concatenate([c["samples"][0]["data"] for c in spec_channels])
    background = np.concatenate(
        [np.sum([smp["data"] for smp in c["samples"][1:]], axis=0) for c in spec_channels]
    )
    estimate = mu_estimate(signal_yields, background, uncertainties.normalisation)
    parameters: list[dict[str, Any]] = [
        {"name": POI, "bounds": [[0.0, max(100.0 * estimate, 10.0)]]}
    ]
    if uncertainties.luminosity > 0:
        sigma = uncertainties.luminosity
        parameters.append(
            {"name": "lumi", "auxdata": [1.0], "sigmas": [sigma],
             "bounds": [[max(1.0 - 5 * sigma, 1e-3), 1.0 + 5 * sigma]], "inits": [1.0]}
        )  # fmt: skip
    spec = {
        "version": "1.0.0",
        "channels": spec_channels,
        "observations": observations,
        "measurements": [{"name": "search", "config": {"poi": POI, "parameters": parameters}}],
    }
    return Workspace(json.loads(json.dumps(spec)), notes, observed is None)


@dataclass(frozen=True)
class LikelihoodResult:
    """Significance and 95 % CLs limits on μ of one workspace."""

    z_expected: float
    #: Expected limits on μ at −2σ, −1σ, median, +1σ, +2σ (empty when not computed).
    limit_expected: tuple[float, ...] = ()
    z_observed: float | None = None
    limit_observed: float | None = None
    #: Why there are no limits although they were asked for (unstable fits), or how they
    #: were found where CLs jumps.
    limit_note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        band = list(self.limit_expected)
        return {
            "z_expected": self.z_expected,
            "limit_expected": band[2] if band else None,
            "limit_expected_band": band,
            "z_observed": self.z_observed,
            "limit_observed": self.limit_observed,
            "limit_note": self.limit_note,
        }


def fit_workspace(
    workspace: Workspace, *, limits: bool = True, n_points: int = 10
) -> LikelihoodResult:
    """Expected (and with data, observed) Z and 95 % CLs limits on μ of ``workspace``.

    Raises :class:`FitError` when a minimisation does not converge.
    """
    try:
        return _fit(workspace, limits, n_points)
    except pyhf_module().exceptions.FailedMinimization as err:
        raise FitError(str(err).splitlines()[0] if str(err) else "FailedMinimization") from err


def _fit(workspace: Workspace, limits: bool, n_points: int) -> LikelihoodResult:
    # pyhf's schema check costs ~0.1 s a model: done by the tests on the written JSON
    # (tests/search/test_likelihood.py), not at every fit.
    model, data = model_of(workspace.spec, validate=False)
    nominal = model.config.suggested_init()
    nominal[model.config.poi_index] = 1.0
    z_expected = q0_z(model, model.expected_data(nominal))
    band: list[float] = []
    z_observed = limit_observed = None
    background_only = data
    if not workspace.asimov:
        z_observed = q0_z(model, data)
        nominal[model.config.poi_index] = 0.0
        background_only = model.expected_data(nominal)
    if limits:
        try:
            _, band, note = limits_from_scan(model, background_only, n_points)
            if not workspace.asimov:
                limit_observed, _, observed_note = limits_from_scan(model, data, n_points)
                note = note or observed_note
        except (UnstableError, pyhf_module().exceptions.FailedMinimization) as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            note = f"no limit: {reason} (unstable fits; too few simulated background events?)"
            return LikelihoodResult(z_expected, (), z_observed, None, note)
        return LikelihoodResult(z_expected, tuple(band), z_observed, limit_observed, note)
    return LikelihoodResult(z_expected, tuple(band), z_observed, limit_observed)
