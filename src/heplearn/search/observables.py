"""From the search store to the analysis table: preselection and observables.

Preselection (DESIGN.md "Search", issue 7): exactly two reconstructed leptons
(the store keeps isolated leptons with pT > 10 GeV), of opposite sign and same
flavour (e⁺e⁻ or μ⁺μ⁻), the leading one with pT > 25 GeV and the second with
pT > 20 GeV (the dilepton-trigger-like thresholds of ATLAS dilepton searches;
the thesis does not state them).

Observables (float32, all energies in GeV, angles in radians):

- ``met``, ``met_significance``: E_T^miss and its significance from the store;
- ``mll``: invariant mass of the two leptons (e/μ masses included);
- ``ptll``: transverse momentum of the dilepton system ℓ_c = ℓ₁ + ℓ₂;
- ``mt``: transverse mass of the dilepton system and E_T^miss,
  m_T = √(2 pT^ℓℓ E_T^miss (1 − cos Δφ(ℓℓ, E_T^miss))).  The seed cuts on
  "m_T" next to Δφ(ℓ_c, E_T^miss) without writing the formula; this is the
  standard massless two-body form on the combined lepton ℓ_c;
- ``mt2``: stransverse mass of the two leptons and E_T^miss with massless
  invisible particles (``mt2`` package, Lester–Nachman), ≥ 0;
- ``n_bjets``, ``n_jets``: b-tagged and all jets (pT > 20 GeV);
- ``lep{1,2}_{pt,eta,phi}``, ``jet{1,2}_{pt,eta,phi}`` (pT-ordered; missing
  jets padded, see :mod:`heplearn.search.padding`);
- ``dphi_ll`` = |Δφ(ℓ₁, ℓ₂)|, ``dphi_met_ll`` = |Δφ(ℓℓ, E_T^miss)| in [0, π];
- ``flavour``: |pdgid| of the lepton pair, 11 (ee) or 13 (μμ): the channel of the
  likelihood (:mod:`heplearn.search.channels`), not a thesis input.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from heplearn.data.reader import open_store
from heplearn.data.schema import Column, count_nonfinite
from heplearn.errors import ConfigError, DataError, SchemaError
from heplearn.search.padding import JET_SLOTS, check_padding, pad_values

__all__ = [
    "FEATURE_NAMES",
    "LEAD_PT_MIN",
    "REQUIRED_FIELDS",
    "SUBLEAD_PT_MIN",
    "EventTable",
    "build_table",
    "preselect",
]

Array = np.ndarray[Any, Any]

#: Preselection thresholds on the leading and second lepton pT [GeV].
LEAD_PT_MIN = 25.0
SUBLEAD_PT_MIN = 20.0

FEATURE_NAMES = (
    "met", "met_significance", "mt", "mll", "mt2", "n_bjets", "n_jets",
    "lep1_pt", "lep1_eta", "lep1_phi", "lep2_pt", "lep2_eta", "lep2_phi",
    "jet1_pt", "jet1_eta", "jet1_phi", "jet2_pt", "jet2_eta", "jet2_phi",
    "dphi_ll", "dphi_met_ll", "ptll", "flavour",
)  # fmt: skip
INDICATOR_NAMES = tuple(f"jet{slot}_present" for slot in range(1, JET_SLOTS + 1))

REQUIRED_FIELDS = (
    "event/weight", "event/is_signal", "event/sample", "event/mediator_mass",
    "event/invisible_mass", "event/id",
    "leptons/pt", "leptons/eta", "leptons/phi", "leptons/pdgid",
    "jets/pt", "jets/eta", "jets/phi", "jets/btag",
    "met/met", "met/phi", "met/significance",
)  # fmt: skip

#: Lepton masses [GeV] by |pdgid|.
_LEPTON_MASS = {11: 0.51099895e-3, 13: 0.1056583755}


@dataclass(frozen=True)
class EventTable:
    """Preselected events: a float32 feature matrix with named columns and per-event labels."""

    features: Array  # float32 (N, F)
    names: tuple[str, ...]
    weight: Array  # float64 (N,) evaluation weights: events at the luminosity (may be < 0)
    is_signal: Array  # int8 (N,)
    sample: Array  # int16 (N,) index into sample_names
    mediator_mass: Array  # float32 (N,) [GeV], 0 for background
    invisible_mass: Array  # float32 (N,) [GeV]
    event_id: Array  # int64 (N,)
    sample_names: tuple[str, ...] = ()
    padding: str = "thesis"

    def __post_init__(self) -> None:
        n = len(self.features)
        if self.features.ndim != 2 or self.features.shape[1] != len(self.names):
            raise ValueError(f"features {self.features.shape} do not match {len(self.names)} names")
        per_event = (self.weight, self.is_signal, self.sample, self.mediator_mass)
        if any(len(a) != n for a in (*per_event, self.invisible_mass, self.event_id)):
            raise ValueError("every per-event array needs one entry per feature row")

    def __len__(self) -> int:
        return len(self.features)

    def column(self, name: str) -> Array:
        """One feature column by name (a view, float32)."""
        if name not in self.names:
            closest = difflib.get_close_matches(name, self.names, n=1, cutoff=0.0)
            raise ConfigError(
                f"observable '{name}'",
                "the event table",
                f"it is not one of {', '.join(self.names)}",
                f"did you mean '{closest[0] if closest else self.names[0]}'?",
            )
        column: Array = self.features[:, self.names.index(name)]
        return column

    def select(self, names: Sequence[str]) -> EventTable:
        """The same events with only the feature columns ``names`` (in that order)."""
        columns = [self.column(name) for name in names]
        features = np.stack(columns, axis=1) if columns else np.zeros((len(self), 0), np.float32)
        return dataclasses.replace(self, features=features, names=tuple(names))

    def subset(self, index: Array | slice) -> EventTable:
        """The events at ``index`` (integer indices, a boolean mask or a slice)."""
        return dataclasses.replace(
            self,
            features=self.features[index],
            weight=self.weight[index],
            is_signal=self.is_signal[index],
            sample=self.sample[index],
            mediator_mass=self.mediator_mass[index],
            invisible_mass=self.invisible_mass[index],
            event_id=self.event_id[index],
        )


def _columns(source: str | Path | Mapping[str, Column]) -> tuple[dict[str, Column], str, Any]:
    """The required columns, where they came from, and the store's sample list if any."""
    if isinstance(source, (str, Path)):
        store = open_store(source, required=dict.fromkeys(REQUIRED_FIELDS))
        return store.read(REQUIRED_FIELDS), str(source), store.provenance.get("samples")
    missing = sorted(set(REQUIRED_FIELDS) - set(source))
    if missing:
        raise SchemaError(
            f"missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
            "the search columns",
            "the search workflow needs leptons, jets, MET and the event labels",
            "generate the sample with 'heplearn generate search' or map the columns on import",
        )
    return {name: source[name] for name in REQUIRED_FIELDS}, "the search columns", None


def _check_finite(columns: Mapping[str, Column], where: str) -> None:
    bad = {name: count_nonfinite(col) for name, col in columns.items()}
    bad = {name: n for name, n in bad.items() if n}
    if bad:
        listed = ", ".join(f"{name} ({n})" for name, n in sorted(bad.items()))
        raise DataError(
            "NaN/inf observables",
            where,
            f"found in {listed}",
            "fix the reconstruction or drop those events before the search",
        )


def _leading(column: Column, n: int, fill: float) -> Array:
    """(N, n) float64: the first ``n`` entries of each event's list, ``fill`` where absent."""
    padded = ak.fill_none(ak.pad_none(column, n, clip=True, axis=1), fill, axis=1)
    out: Array = ak.to_numpy(padded).astype(np.float64)
    return out


def _sorted_by(column: Column, key: Column) -> Column:
    """Each event's list ordered by decreasing ``key`` (pT)."""
    return column[ak.argsort(key, axis=1, ascending=False)]


def preselect(columns: Mapping[str, Column]) -> Array:
    """Boolean mask: exactly two opposite-sign same-flavour leptons, pT > 25 and > 20 GeV."""
    pt = _sorted_by(columns["leptons/pt"], columns["leptons/pt"])
    pdg = _sorted_by(columns["leptons/pdgid"], columns["leptons/pt"])
    two = ak.to_numpy(ak.num(pt, axis=1)) == 2
    pts = _leading(pt, 2, 0.0)
    ids = _leading(pdg, 2, 0.0)
    opposite_sign = ids[:, 0] * ids[:, 1] < 0
    same_flavour = np.abs(ids[:, 0]) == np.abs(ids[:, 1])
    lepton_flavour = np.isin(np.abs(ids[:, 0]), list(_LEPTON_MASS))
    mask: Array = (
        two
        & opposite_sign
        & same_flavour
        & lepton_flavour
        & (pts[:, 0] > LEAD_PT_MIN)
        & (pts[:, 1] > SUBLEAD_PT_MIN)
    )
    return mask


def _delta_phi(a: Array, b: Array) -> Array:
    """|a − b| wrapped into [0, π]."""
    out: Array = np.abs((a - b + np.pi) % (2.0 * np.pi) - np.pi)
    return out


def _mt2(mass: Array, px: Array, py: Array, met_x: Array, met_y: Array) -> Array:
    """m_T2 of two visible particles ((N, 2) arrays) with massless invisibles, ≥ 0.

    The rare non-finite solver outcome (documented by the ``mt2`` package) is set to 0.
    """
    from mt2 import mt2

    zero = np.zeros(len(px))
    m1, m2 = mass[:, 0], mass[:, 1]
    # Degenerate inputs (zero E_T^miss) divide by zero inside the solver; handled below.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        values = np.asarray(
            mt2(m1, px[:, 0], py[:, 0], m2, px[:, 1], py[:, 1], met_x, met_y, zero, zero),
            dtype=np.float64,
        )
    # The solver returns < 0 only without a solution (impossible for massless invisibles).
    out: Array = np.where(np.isfinite(values), np.maximum(values, 0.0), 0.0)
    return out


def _lepton_features(columns: Mapping[str, Column], met: Array, met_phi: Array) -> dict[str, Array]:
    order_key = columns["leptons/pt"]
    pt = _leading(_sorted_by(columns["leptons/pt"], order_key), 2, 0.0)
    eta = _leading(_sorted_by(columns["leptons/eta"], order_key), 2, 0.0)
    phi = _leading(_sorted_by(columns["leptons/phi"], order_key), 2, 0.0)
    pdg = np.abs(_leading(_sorted_by(columns["leptons/pdgid"], order_key), 2, 0.0))
    mass = np.where(pdg == 11, _LEPTON_MASS[11], _LEPTON_MASS[13])
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    energy = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
    dot = px[:, 0] * px[:, 1] + py[:, 0] * py[:, 1] + pz[:, 0] * pz[:, 1]
    mll2 = mass[:, 0] ** 2 + mass[:, 1] ** 2 + 2.0 * (energy[:, 0] * energy[:, 1] - dot)
    px_ll, py_ll = px.sum(axis=1), py.sum(axis=1)
    ptll = np.hypot(px_ll, py_ll)
    phi_ll = np.arctan2(py_ll, px_ll)
    dphi_met_ll = _delta_phi(phi_ll, met_phi)
    met_x, met_y = met * np.cos(met_phi), met * np.sin(met_phi)
    return {
        "mll": np.sqrt(np.maximum(mll2, 0.0)),
        "ptll": ptll,
        "mt": np.sqrt(np.maximum(2.0 * ptll * met * (1.0 - np.cos(dphi_met_ll)), 0.0)),
        "mt2": _mt2(mass, px, py, met_x, met_y),
        "dphi_ll": _delta_phi(phi[:, 0], phi[:, 1]),
        "dphi_met_ll": dphi_met_ll,
        "flavour": pdg[:, 0],
        **{f"lep{i + 1}_pt": pt[:, i] for i in range(2)},
        **{f"lep{i + 1}_eta": eta[:, i] for i in range(2)},
        **{f"lep{i + 1}_phi": phi[:, i] for i in range(2)},
    }


def _jet_features(columns: Mapping[str, Column], padding: str) -> dict[str, Array]:
    key = columns["jets/pt"]
    n_jets = ak.to_numpy(ak.num(key, axis=1)).astype(np.float64)
    fill_pt, fill_eta, fill_phi = pad_values(padding)
    out = {
        "n_jets": n_jets,
        "n_bjets": ak.to_numpy(ak.sum(columns["jets/btag"], axis=1)).astype(np.float64),
    }
    for field, fill in (("pt", fill_pt), ("eta", fill_eta), ("phi", fill_phi)):
        values = _leading(_sorted_by(columns[f"jets/{field}"], key), JET_SLOTS, fill)
        for slot in range(JET_SLOTS):
            out[f"jet{slot + 1}_{field}"] = values[:, slot]
    if padding == "indicator":
        for slot in range(JET_SLOTS):
            out[INDICATOR_NAMES[slot]] = (n_jets > slot).astype(np.float64)
    return out


def _sample_names(declared: Sequence[str] | None, stored: Any) -> tuple[str, ...]:
    if declared is not None:
        return tuple(declared)
    if isinstance(stored, str):
        try:
            stored = json.loads(stored)
        except ValueError:
            return ()
    if isinstance(stored, list) and all(isinstance(s, str) for s in stored):
        return tuple(stored)
    return ()


def build_table(
    source: str | Path | Mapping[str, Column],
    padding: str = "thesis",
    *,
    sample_names: Sequence[str] | None = None,
) -> EventTable:
    """Preselect the events of a search store (path) or column dict and compute the observables.

    ``padding`` is ``thesis``, ``indicator`` (adds ``jet1_present``,
    ``jet2_present``) or ``mean`` (thesis placeholders until
    :meth:`~heplearn.search.padding.JetMeans.apply` with means fitted on the
    training split).  NaN/inf in any float column used raises DataError naming
    the fields and counts; a missing column raises SchemaError.
    """
    check_padding(padding)
    columns, where, stored_names = _columns(source)
    _check_finite(columns, where)
    keep = preselect(columns)
    selected = {name: col[keep] for name, col in columns.items()}
    met = np.asarray(selected["met/met"], dtype=np.float64)
    met_phi = np.asarray(selected["met/phi"], dtype=np.float64)
    values = {
        "met": met,
        "met_significance": np.asarray(selected["met/significance"], dtype=np.float64),
        **_lepton_features(selected, met, met_phi),
        **_jet_features(selected, padding),
    }
    names = FEATURE_NAMES + (INDICATOR_NAMES if padding == "indicator" else ())
    n = int(np.count_nonzero(keep))
    features = (
        np.stack([values[name] for name in names], axis=1).astype(np.float32)
        if n
        else np.zeros((0, len(names)), np.float32)
    )
    return EventTable(
        features=features,
        names=names,
        weight=np.asarray(selected["event/weight"], dtype=np.float64),
        is_signal=np.asarray(selected["event/is_signal"]).astype(np.int8),
        sample=np.asarray(selected["event/sample"]).astype(np.int16),
        mediator_mass=np.asarray(selected["event/mediator_mass"]).astype(np.float32),
        invisible_mass=np.asarray(selected["event/invisible_mass"]).astype(np.float32),
        event_id=np.asarray(selected["event/id"]).astype(np.int64),
        sample_names=_sample_names(sample_names, stored_names),
        padding=padding,
    )
