"""Reconstructed electrons and muons: acceptance, identification efficiency, resolution, isolation.

Candidates are the final-state electrons and muons of a :class:`FinalState`
(prompt or not: leptons from hadron decays mostly fail the isolation).  All
events are processed at once on flat arrays.

- **Electrons** are *dressed* with the photons within ΔR < 0.1 (the
  calorimeter cluster holds the collinear bremsstrahlung), accepted for
  |η| < ``geometry.eta_max`` outside ``geometry.crack`` (ATLAS: 2.47 and
  1.37–1.52), and their energy is smeared with the calorimeter resolution of
  the geometry, σ/E = a/√E ⊕ b/E ⊕ c: a = ``geometry.stochastic``,
  c = ``geometry.constant`` and the noise term b [GeV] = √(Σ_layers N_cells σ²_noise)
  summed over the stored cell windows of every layer (≈ 0.28 GeV for ``atlas-lar``).
  Identification efficiency ("medium"-like): plateau × (1 − d·exp(−(p_T − 10 GeV)/τ)),
  ≈ 0.85 at 10 GeV rising to 0.95 (barrel) / 0.92 (end-cap) — ATLAS electron
  efficiency measurements, Eur. Phys. J. C 79 (2019) 639.
- **Muons**: |η| < 2.5, efficiency 0.99 − 0.03·exp(−(p_T − 10 GeV)/15 GeV), lower
  (0.70) for |η| < 0.1 where the muon spectrometer is open for services;
  resolution σ(p_T)/p_T = a ⊕ b·p_T with (a, b) = (1.7 %, 0.011 %/GeV) for |η| < 1.05
  and (3.0 %, 0.02 %/GeV) beyond (≈ 2 % at 45 GeV, ≈ 11 % at 1 TeV; ATLAS muon
  performance, Eur. Phys. J. C 76 (2016) 292).
- **Isolation** (relative, ATLAS "Loose"-like): track isolation Σp_T of charged particles
  (p_T > 1 GeV, |η| < 2.5) in ΔR < min(10 GeV/p_T, R_track) with R_track = 0.2 (e) /
  0.3 (μ), over the lepton p_T, must be < 0.15; calorimeter isolation Σp_T of the other
  visible non-muon particles in 0.05 < ΔR < 0.2 (the core holds the lepton's own deposit and
  collinear radiation; dressing photons excluded), over p_T, < 0.20.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from heplearn.config import setting
from heplearn.detector.calorimeter.cellgrid import wrap_phi
from heplearn.detector.calorimeter.geometry import CalorimeterGeometry
from heplearn.detector.objects.final_state import FinalState
from heplearn.detector.ranges import pair_by_event

__all__ = [
    "LeptonSettings",
    "Leptons",
    "calorimeter_noise_term",
    "electron_efficiency",
    "electron_resolution",
    "muon_efficiency",
    "muon_resolution",
    "reconstruct_leptons",
]

Array = np.ndarray[Any, Any]

#: Candidates below this true p_T [GeV] are never reconstructed (saves isolation pairs).
_CANDIDATE_PT_MIN = 5.0


@dataclass(frozen=True)
class LeptonSettings:
    """Lepton selection and performance (GeV, ΔR units); ATLAS-like defaults."""

    pt_min: float = setting(10.0, low=0.0, doc="p_T threshold after smearing [GeV]")
    muon_eta_max: float = setting(2.5, low=0.0, high=5.0, doc="muon |η| acceptance")
    dressing_cone: float = setting(0.1, low=0.0, high=0.4, doc="photons added to electrons")
    electron_plateau_barrel: float = setting(0.95, low=0.0, high=1.0, doc="e ID eff. |η|<1.37")
    electron_plateau_endcap: float = setting(0.92, low=0.0, high=1.0, doc="e ID eff. |η|>1.52")
    electron_turn_on: float = setting(0.105, low=0.0, high=1.0, doc="eff. deficit at 10 GeV")
    electron_turn_on_gev: float = setting(25.0, low=0.1, doc="turn-on scale [GeV]")
    muon_plateau: float = setting(0.99, low=0.0, high=1.0, doc="muon efficiency plateau")
    muon_turn_on: float = setting(0.03, low=0.0, high=1.0, doc="eff. deficit at 10 GeV")
    muon_turn_on_gev: float = setting(15.0, low=0.1, doc="turn-on scale [GeV]")
    muon_gap_eta: float = setting(0.1, low=0.0, high=1.0, doc="|η| of the spectrometer gap")
    muon_gap_efficiency: float = setting(0.70, low=0.0, high=1.0, doc="efficiency in the gap")
    muon_resolution_barrel: tuple[float, float] = setting(
        (0.017, 1.1e-4), low=0.0, doc="(a, b [1/GeV]) of σ(p_T)/p_T = a ⊕ b·p_T, |η|<1.05"
    )
    muon_resolution_endcap: tuple[float, float] = setting(
        (0.030, 2.0e-4), low=0.0, doc="(a, b [1/GeV]) for |η| > 1.05"
    )
    track_cone_electron: float = setting(0.2, low=0.0, high=1.0, doc="max track-iso cone (e)")
    track_cone_muon: float = setting(0.3, low=0.0, high=1.0, doc="max track-iso cone (μ)")
    track_cone_gev: float = setting(10.0, low=0.0, doc="variable cone: R = this / p_T")
    calo_cone: float = setting(0.2, low=0.0, high=1.0, doc="calorimeter-isolation cone")
    calo_core: float = setting(0.05, low=0.0, high=1.0, doc="core (own deposit) left out")
    track_pt_min: float = setting(1.0, low=0.0, doc="tracks in the isolation [GeV]")
    track_eta_max: float = setting(2.5, low=0.0, high=5.0, doc="tracker acceptance")
    track_isolation_max: float = setting(0.15, low=0.0, doc="cut on Σp_T(tracks)/p_T")
    calo_isolation_max: float = setting(0.20, low=0.0, doc="cut on ΣE_T(calo)/p_T")


@dataclass(frozen=True)
class Leptons:
    """Reconstructed lepton candidates (flat, one entry per identified e/μ above ``pt_min``).

    ``selected`` marks the isolated ones (the analysis leptons, before jet overlap removal).
    ``particle`` is the index into the final state; ``dressing_owner`` (per particle of the
    final state) is the particle index of the electron whose cluster absorbed that photon,
    −1 for every other particle.
    """

    event: Array
    particle: Array
    pdgid: Array
    pt: Array
    eta: Array
    phi: Array
    energy: Array
    sigma_pt: Array
    track_isolation: Array
    calo_isolation: Array
    selected: Array
    dressing_owner: Array

    @property
    def px(self) -> Array:
        px: Array = self.pt * np.cos(self.phi)
        return px

    @property
    def py(self) -> Array:
        py: Array = self.pt * np.sin(self.phi)
        return py

    def subset(self, mask: Array) -> Leptons:
        """The candidates where ``mask`` is True (``dressing_owner`` is kept as is)."""
        fields = {name: getattr(self, name)[mask] for name in _PER_LEPTON}
        return Leptons(**fields, dressing_owner=self.dressing_owner)

    def dressing_of(self, mask: Array, n_particles: int) -> Array:
        """Per particle: True for the photons absorbed by the candidates where ``mask``."""
        owned = np.zeros(n_particles + 1, dtype=bool)
        owned[self.particle[mask]] = True
        # index −1 reads the always-False sentinel at the end
        result: Array = owned[self.dressing_owner]
        return result


_PER_LEPTON = (
    "event",
    "particle",
    "pdgid",
    "pt",
    "eta",
    "phi",
    "energy",
    "sigma_pt",
    "track_isolation",
    "calo_isolation",
    "selected",
)


def calorimeter_noise_term(geometry: CalorimeterGeometry) -> float:
    """Noise term b [GeV] of a cluster: √(Σ cells of the stored windows × σ²_noise per cell)."""
    variance = sum(
        layer.window[0] * layer.window[1] * (layer.noise_mev * 1e-3) ** 2
        for layer in geometry.layers
    )
    return float(np.sqrt(variance))


def electron_resolution(energy: Array, geometry: CalorimeterGeometry) -> Array:
    """Relative energy resolution σ/E = a/√E ⊕ b/E ⊕ c of the geometry (E in GeV)."""
    energy = np.maximum(np.asarray(energy, dtype=np.float64), 1e-3)
    noise = calorimeter_noise_term(geometry)
    relative: Array = np.sqrt(
        geometry.stochastic**2 / energy + (noise / energy) ** 2 + geometry.constant**2
    )
    return relative


def electron_efficiency(pt: Array, abs_eta: Array, settings: LeptonSettings) -> Array:
    """Identification efficiency of electrons vs p_T [GeV] and |η|."""
    plateau = np.where(
        abs_eta < 1.37, settings.electron_plateau_barrel, settings.electron_plateau_endcap
    )
    turn_on = settings.electron_turn_on * np.exp(-(pt - 10.0) / settings.electron_turn_on_gev)
    efficiency: Array = np.clip(plateau * (1.0 - turn_on), 0.0, 1.0)
    return efficiency


def muon_efficiency(pt: Array, abs_eta: Array, settings: LeptonSettings) -> Array:
    """Reconstruction + identification efficiency of muons vs p_T [GeV] and |η|."""
    turn_on = settings.muon_turn_on * np.exp(-(pt - 10.0) / settings.muon_turn_on_gev)
    efficiency = np.clip(settings.muon_plateau - turn_on, 0.0, 1.0)
    gap_scale = settings.muon_gap_efficiency / max(settings.muon_plateau, 1e-9)
    scaled: Array = np.where(abs_eta < settings.muon_gap_eta, efficiency * gap_scale, efficiency)
    return scaled


def muon_resolution(pt: Array, abs_eta: Array, settings: LeptonSettings) -> Array:
    """Relative p_T resolution σ(p_T)/p_T = a ⊕ b·p_T (p_T in GeV)."""
    a = np.where(
        abs_eta < 1.05, settings.muon_resolution_barrel[0], settings.muon_resolution_endcap[0]
    )
    b = np.where(
        abs_eta < 1.05, settings.muon_resolution_barrel[1], settings.muon_resolution_endcap[1]
    )
    relative: Array = np.hypot(a, b * pt)
    return relative


def _eta(px: Array, py: Array, pz: Array) -> Array:
    eta: Array = np.arcsinh(pz / np.maximum(np.hypot(px, py), 1e-9))
    return eta


def _dress(
    fs: FinalState, candidates: Array, cone: float
) -> tuple[Array, Array, Array, Array, Array]:
    """Add the photons within ``cone`` (each to its nearest electron candidate)."""
    px, py, pz, e = (getattr(fs, name)[candidates].copy() for name in ("px", "py", "pz", "e"))
    owner = np.full(fs.n_particles, -1, dtype=np.int64)
    is_electron = np.abs(fs.pdgid[candidates]) == 11
    photons = np.flatnonzero(fs.pdgid == 22)
    if cone <= 0 or not len(photons) or not np.any(is_electron):
        return px, py, pz, e, owner
    events = fs.event_index
    electrons = np.flatnonzero(is_electron)
    rows, items = pair_by_event(events[candidates[electrons]], events[photons])
    lep, pho = candidates[electrons[rows]], photons[items]
    dr = _delta_r(fs, lep, pho)
    close = dr < cone
    rows, pho, dr = rows[close], pho[close], dr[close]
    # a photon joins only its nearest electron
    order = np.lexsort((dr, pho))
    first = np.ones(len(order), dtype=bool)
    first[1:] = pho[order][1:] != pho[order][:-1]
    keep = order[first]
    target = electrons[rows[keep]]
    for out, name in ((px, "px"), (py, "py"), (pz, "pz"), (e, "e")):
        np.add.at(out, target, getattr(fs, name)[pho[keep]])
    owner[pho[keep]] = candidates[target]
    return px, py, pz, e, owner


def _delta_r(fs: FinalState, a: Array, b: Array) -> Array:
    """ΔR between particles ``a`` and ``b`` of the final state (index arrays)."""
    eta_a = _eta(fs.px[a], fs.py[a], fs.pz[a])
    eta_b = _eta(fs.px[b], fs.py[b], fs.pz[b])
    dphi = wrap_phi(np.arctan2(fs.py[a], fs.px[a]) - np.arctan2(fs.py[b], fs.px[b]))
    dr: Array = np.hypot(eta_a - eta_b, dphi)
    return dr


def _isolation(fs: FinalState, leptons: Leptons, settings: LeptonSettings) -> tuple[Array, Array]:
    """Relative track and calorimeter isolation of every candidate."""
    events = fs.event_index
    rows, others = pair_by_event(leptons.event, events)
    keep = others != leptons.particle[rows]
    rows, others = rows[keep], others[keep]
    pt_other = np.hypot(fs.px[others], fs.py[others])
    eta_other = _eta(fs.px[others], fs.py[others], fs.pz[others])
    dphi = wrap_phi(np.arctan2(fs.py[others], fs.px[others]) - leptons.phi[rows])
    dr = np.hypot(eta_other - leptons.eta[rows], dphi)
    is_muon = np.abs(leptons.pdgid) == 13
    max_cone = np.where(is_muon, settings.track_cone_muon, settings.track_cone_electron)
    cone = np.minimum(settings.track_cone_gev / np.maximum(leptons.pt, 1e-9), max_cone)
    track = (
        (fs.charge[others] != 0)
        & (pt_other > settings.track_pt_min)
        & (np.abs(eta_other) < settings.track_eta_max)
        & (dr < cone[rows])
    )
    calo = (
        (np.abs(fs.pdgid[others]) != 13)
        & (leptons.dressing_owner[others] != leptons.particle[rows])
        & (dr < settings.calo_cone)
        & (dr > settings.calo_core)
    )
    n = len(leptons.pt)
    track_sum = np.bincount(rows[track], weights=pt_other[track], minlength=n)
    calo_sum = np.bincount(rows[calo], weights=pt_other[calo], minlength=n)
    return track_sum / leptons.pt, calo_sum / leptons.pt


def reconstruct_leptons(
    fs: FinalState,
    rng: np.random.Generator,
    geometry: CalorimeterGeometry,
    settings: LeptonSettings = LeptonSettings(),
) -> Leptons:
    """Identified electrons and muons above ``pt_min`` of all events, with isolation flags."""
    abs_id = np.abs(fs.pdgid)
    true_pt = np.hypot(fs.px, fs.py)
    candidates = np.flatnonzero(((abs_id == 11) | (abs_id == 13)) & (true_pt > _CANDIDATE_PT_MIN))
    px, py, pz, e, owner = _dress(fs, candidates, settings.dressing_cone)
    pdgid = fs.pdgid[candidates]
    is_electron = np.abs(pdgid) == 11
    pt = np.hypot(px, py)
    eta = _eta(px, py, pz)
    phi = np.arctan2(py, px)
    abs_eta = np.abs(eta)
    low, high = geometry.crack
    electron_ok = (abs_eta < geometry.eta_max) & ~((abs_eta > low) & (abs_eta < high))
    accepted = np.where(is_electron, electron_ok, abs_eta < settings.muon_eta_max)
    efficiency = np.where(
        is_electron,
        electron_efficiency(pt, abs_eta, settings),
        muon_efficiency(pt, abs_eta, settings),
    )
    identified = accepted & (rng.random(len(pt)) < efficiency)
    # electrons: calorimeter energy resolution; muons: tracker p_T resolution
    relative = np.where(
        is_electron, electron_resolution(e, geometry), muon_resolution(pt, abs_eta, settings)
    )
    scale = np.maximum(1.0 + relative * rng.standard_normal(len(pt)), 0.0)
    pt, energy = pt * scale, e * scale
    keep = identified & (pt > settings.pt_min)
    leptons = Leptons(
        event=fs.event_index[candidates[keep]],
        particle=candidates[keep],
        pdgid=pdgid[keep],
        pt=pt[keep],
        eta=eta[keep],
        phi=phi[keep],
        energy=energy[keep],
        sigma_pt=(relative * pt)[keep],
        track_isolation=np.zeros(int(keep.sum())),
        calo_isolation=np.zeros(int(keep.sum())),
        selected=np.zeros(int(keep.sum()), dtype=bool),
        dressing_owner=owner,
    )
    track_iso, calo_iso = _isolation(fs, leptons, settings)
    selected = (track_iso < settings.track_isolation_max) & (calo_iso < settings.calo_isolation_max)
    return Leptons(
        **{name: getattr(leptons, name) for name in _PER_LEPTON[:8]},
        track_isolation=track_iso,
        calo_isolation=calo_iso,
        selected=selected,
        dressing_owner=owner,
    )
