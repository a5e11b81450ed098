"""Missing transverse momentum, its ΣE_T and its object-based significance.

E_T^miss = −(Σ leptons + Σ jets + soft term), per event, in GeV.  The soft term
is track-based (ATLAS "TST"): charged particles with p_T > 0.5 GeV and
|η| < 2.5 that belong to no selected object, plus a Gaussian smearing of
σ_soft = 8.9 GeV per component — the soft-term resolution ATLAS assigns in its
object-based significance (ATLAS-CONF-2018-038), which mostly comes from the
pileup (⟨μ⟩ ≈ 30) of the thesis' data that the generated events do not contain.
ΣE_T is the scalar Σp_T of every term (objects and soft tracks).

**Significance** (object-based, ATLAS-CONF-2018-038): every object contributes
its p_T resolution σ_i along its direction, the soft term σ_soft² in both
directions, V = Σ σ_i² û_i û_iᵀ + σ_soft² 1, and S² = E⃗ᵀ V⁻¹ E⃗ (the log-likelihood
ratio of "true E_T^miss = E⃗" vs "= 0").  S ≈ 1–2 for events without invisible
particles and S > 10 means a missing momentum ≳ 10 × its resolution (the
thesis' cut E_T^miss/σ > 10 is a clean-MET requirement, ≈ 100 GeV in events
with few jets).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from heplearn.config import setting
from heplearn.detector.objects.final_state import FinalState

__all__ = ["MetSettings", "MetTerm", "MissingEt", "missing_et", "soft_term", "truth_met"]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class MetSettings:
    """Soft term definition and resolution (GeV)."""

    soft_track_pt_min: float = setting(0.5, low=0.0, doc="soft-term tracks p_T [GeV]")
    soft_track_eta_max: float = setting(2.5, low=0.0, high=5.0, doc="soft-term tracks |η|")
    soft_resolution: float = setting(8.9, low=0.0, high=100.0, doc="σ per component [GeV]")


@dataclass(frozen=True)
class MetTerm:
    """Hard objects entering E_T^miss: event index, p_x, p_y and σ(p_T) [GeV] per object."""

    event: Array
    px: Array
    py: Array
    sigma: Array


@dataclass(frozen=True)
class MissingEt:
    """Per-event missing transverse momentum [GeV], its φ, ΣE_T [GeV] and significance."""

    mpx: Array
    mpy: Array
    sumet: Array
    significance: Array

    @property
    def met(self) -> Array:
        met: Array = np.hypot(self.mpx, self.mpy)
        return met

    @property
    def phi(self) -> Array:
        phi: Array = np.arctan2(self.mpy, self.mpx)
        return phi


def truth_met(fs: FinalState) -> Array:
    """|Σ p⃗_T| of the invisible particles (neutrinos and BSM invisibles) per event [GeV]."""
    met: Array = np.hypot(fs.invisible_px, fs.invisible_py)
    return met


def soft_term(
    fs: FinalState, used: Array, settings: MetSettings = MetSettings()
) -> tuple[Array, Array, Array]:
    """Σp_x, Σp_y and Σp_T [GeV] per event of the charged tracks outside ``used`` (bool)."""
    pt = np.hypot(fs.px, fs.py)
    eta = np.arcsinh(fs.pz / np.maximum(pt, 1e-9))
    tracks = (
        ~used
        & (fs.charge != 0)
        & (pt > settings.soft_track_pt_min)
        & (np.abs(eta) < settings.soft_track_eta_max)
    )
    event = fs.event_index[tracks]
    n = fs.n_events
    return (
        np.bincount(event, weights=fs.px[tracks], minlength=n),
        np.bincount(event, weights=fs.py[tracks], minlength=n),
        np.bincount(event, weights=pt[tracks], minlength=n),
    )


def missing_et(
    n_events: int,
    terms: Sequence[MetTerm],
    soft: tuple[Array, Array, Array],
    rng: np.random.Generator,
    settings: MetSettings = MetSettings(),
) -> MissingEt:
    """E_T^miss of ``terms`` and the soft term ``(Σp_x, Σp_y, Σp_T)``, with its significance."""
    soft_px, soft_py, soft_sumet = soft
    sigma_soft = settings.soft_resolution
    # the measured soft term fluctuates by the resolution the significance assumes
    mpx = -(soft_px + sigma_soft * rng.standard_normal(n_events))
    mpy = -(soft_py + sigma_soft * rng.standard_normal(n_events))
    sumet = np.asarray(soft_sumet, dtype=np.float64).copy()
    vxx = np.full(n_events, sigma_soft**2)
    vyy = np.full(n_events, sigma_soft**2)
    vxy = np.zeros(n_events)
    for term in terms:
        pt = np.hypot(term.px, term.py)
        cos = term.px / np.maximum(pt, 1e-9)
        sin = term.py / np.maximum(pt, 1e-9)
        var = term.sigma**2
        mpx -= np.bincount(term.event, weights=term.px, minlength=n_events)
        mpy -= np.bincount(term.event, weights=term.py, minlength=n_events)
        sumet += np.bincount(term.event, weights=pt, minlength=n_events)
        vxx += np.bincount(term.event, weights=var * cos**2, minlength=n_events)
        vyy += np.bincount(term.event, weights=var * sin**2, minlength=n_events)
        vxy += np.bincount(term.event, weights=var * cos * sin, minlength=n_events)
    determinant = np.maximum(vxx * vyy - vxy**2, 1e-12)
    # S² = E⃗ᵀ V⁻¹ E⃗ with the 2×2 inverse written out
    s2 = (vyy * mpx**2 - 2.0 * vxy * mpx * mpy + vxx * mpy**2) / determinant
    return MissingEt(mpx=mpx, mpy=mpy, sumet=sumet, significance=np.sqrt(np.maximum(s2, 0.0)))
