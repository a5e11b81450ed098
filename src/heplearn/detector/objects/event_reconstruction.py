"""Event reconstruction of a shard for the search: leptons, jets, b-tags, E_T^miss → store columns.

Order (ATLAS-like): identified, isolated leptons (:mod:`~heplearn.detector.objects.leptons`);
anti-k_T jets of the other visible particles — selected electrons and their
photons excluded, muons never clustered (:mod:`~heplearn.detector.objects.jets`); b-tags;
overlap removal; E_T^miss from the selected leptons, the electrons and identified
muons removed by the overlap removal or isolation (the calorimeter and muon system
still measure them), the jets, and a track soft term
(:mod:`~heplearn.detector.objects.missing_et`).  Store columns (GeV, radians):

- jagged, p_T-descending per event: ``leptons/pt eta phi`` float32, ``leptons/pdgid`` int32
  (signed: 11 = e⁻, −13 = μ⁺), ``leptons/isolation`` float32 (relative track isolation);
  ``jets/pt eta phi mass`` float32, ``jets/btag`` int8 (0/1);
- per event: ``met/met met/phi met/sumet met/significance`` float32, ``truth/met`` float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import awkward as ak
import numpy as np

from heplearn.config import setting
from heplearn.data.schema import Column
from heplearn.detector.calorimeter.geometry import CalorimeterGeometry, load_geometry
from heplearn.detector.objects.final_state import FinalState
from heplearn.detector.objects.jets import (
    Jets,
    JetSettings,
    cluster_jets,
    overlap_removal,
    tag_b_jets,
)
from heplearn.detector.objects.leptons import Leptons, LeptonSettings, reconstruct_leptons
from heplearn.detector.objects.missing_et import (
    MetSettings,
    MetTerm,
    missing_et,
    soft_term,
    truth_met,
)

__all__ = ["RECONSTRUCTION_FIELDS", "ReconstructionSettings", "reconstruct"]

Array = np.ndarray[Any, Any]

#: The columns :func:`reconstruct` returns, with their dtypes (jagged ones marked ``var *``).
RECONSTRUCTION_FIELDS: dict[str, str] = {
    "leptons/pt": "var * float32",
    "leptons/eta": "var * float32",
    "leptons/phi": "var * float32",
    "leptons/pdgid": "var * int32",
    "leptons/isolation": "var * float32",
    "jets/pt": "var * float32",
    "jets/eta": "var * float32",
    "jets/phi": "var * float32",
    "jets/mass": "var * float32",
    "jets/btag": "var * int8",
    "met/met": "float32",
    "met/phi": "float32",
    "met/sumet": "float32",
    "met/significance": "float32",
    "truth/met": "float32",
}


@dataclass(frozen=True)
class ReconstructionSettings:
    """Object definitions of the search reconstruction (nest it in a sample config)."""

    geometry: str = setting("atlas-lar", doc="calorimeter geometry of the electron resolution")
    leptons: LeptonSettings = setting(LeptonSettings())
    jets: JetSettings = setting(JetSettings())
    met: MetSettings = setting(MetSettings())


@lru_cache(maxsize=8)
def _geometry(name: str) -> CalorimeterGeometry:
    return load_geometry(name)


def _jagged(n_events: int, event: Array, pt: Array, values: dict[str, Array]) -> dict[str, Column]:
    """Per-event lists sorted by descending p_T."""
    order = np.lexsort((-pt, event))
    counts = np.bincount(event, minlength=n_events)
    return {name: ak.unflatten(value[order], counts) for name, value in values.items()}


def _lepton_columns(n_events: int, leptons: Leptons) -> dict[str, Column]:
    return _jagged(
        n_events,
        leptons.event,
        leptons.pt,
        {
            "leptons/pt": leptons.pt.astype(np.float32),
            "leptons/eta": leptons.eta.astype(np.float32),
            "leptons/phi": leptons.phi.astype(np.float32),
            "leptons/pdgid": leptons.pdgid.astype(np.int32),
            "leptons/isolation": leptons.track_isolation.astype(np.float32),
        },
    )


def _jet_columns(n_events: int, jets: Jets) -> dict[str, Column]:
    return _jagged(
        n_events,
        jets.event,
        jets.pt,
        {
            "jets/pt": jets.pt.astype(np.float32),
            "jets/eta": jets.eta.astype(np.float32),
            "jets/phi": jets.phi.astype(np.float32),
            "jets/mass": jets.mass.astype(np.float32),
            "jets/btag": jets.btag.astype(np.int8),
        },
    )


def _term(leptons: Leptons) -> MetTerm:
    return MetTerm(event=leptons.event, px=leptons.px, py=leptons.py, sigma=leptons.sigma_pt)


def reconstruct(
    final_state: FinalState,
    rng: np.random.Generator,
    *,
    geometry: str | CalorimeterGeometry | None = None,
    settings: ReconstructionSettings = ReconstructionSettings(),
) -> dict[str, Column]:
    """Reconstructed objects of every event of ``final_state`` as store columns (see module doc).

    ``geometry`` (a shipped name, a YAML path or a loaded geometry) overrides
    ``settings.geometry``; it sets the electron energy resolution and acceptance.
    """
    final_state.validate()
    if not isinstance(geometry, CalorimeterGeometry):
        geometry = _geometry(str(geometry or settings.geometry))
    fs = final_state
    n = fs.n_events
    candidates = reconstruct_leptons(fs, rng, geometry, settings.leptons)
    is_electron = np.abs(candidates.pdgid) == 11
    selected_electrons = candidates.selected & is_electron
    exclude = candidates.dressing_of(selected_electrons, fs.n_particles)
    exclude[candidates.particle[selected_electrons]] = True
    jets = tag_b_jets(cluster_jets(fs, exclude, rng, settings.jets), fs, rng, settings.jets)
    isolated = candidates.subset(candidates.selected)
    jets, keep = overlap_removal(jets, isolated, settings.jets)
    leptons = isolated.subset(keep)
    # measured but not analysis leptons: electrons removed near jets, every other identified muon
    removed_electrons = isolated.subset(~keep & (np.abs(isolated.pdgid) == 11))
    other_muons = candidates.subset(~is_electron & ~candidates.selected)
    removed_muons = isolated.subset(~keep & (np.abs(isolated.pdgid) == 13))
    used = jets.owner >= 0
    used |= exclude
    for group in (leptons, removed_electrons, other_muons, removed_muons):
        used[group.particle] = True
    jet_term = MetTerm(event=jets.event, px=jets.px, py=jets.py, sigma=jets.sigma_pt)
    terms = [_term(g) for g in (leptons, removed_electrons, other_muons, removed_muons)]
    met = missing_et(n, [*terms, jet_term], soft_term(fs, used, settings.met), rng, settings.met)
    columns = _lepton_columns(n, leptons) | _jet_columns(n, jets)
    columns["met/met"] = met.met.astype(np.float32)
    columns["met/phi"] = met.phi.astype(np.float32)
    columns["met/sumet"] = met.sumet.astype(np.float32)
    columns["met/significance"] = met.significance.astype(np.float32)
    columns["truth/met"] = truth_met(fs).astype(np.float32)
    return columns
