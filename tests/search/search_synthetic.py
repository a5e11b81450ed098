"""Synthetic search inputs made in the tests: store-shaped column dicts and Gaussian tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import awkward as ak
import numpy as np

from heplearn.search.observables import FEATURE_NAMES, EventTable

Lepton = tuple[float, float, float, int]  # pt [GeV], eta, phi, signed pdgid
Jet = tuple[float, float, float, int]  # pt [GeV], eta, phi, btag


def event(
    leptons: Sequence[Lepton],
    jets: Sequence[Jet] = (),
    *,
    met: float = 50.0,
    met_phi: float = 0.0,
    met_significance: float = 5.0,
    weight: float = 1.0,
    is_signal: int = 0,
    sample: int = 0,
    mediator_mass: float = 0.0,
    invisible_mass: float = 0.0,
) -> dict[str, Any]:
    """One event as plain Python values."""
    return {
        "leptons": list(leptons),
        "jets": list(jets),
        "met": met,
        "met_phi": met_phi,
        "met_significance": met_significance,
        "weight": weight,
        "is_signal": is_signal,
        "sample": sample,
        "mediator_mass": mediator_mass,
        "invisible_mass": invisible_mass,
    }


def _jagged(rows: list[list[float]], dtype: type) -> ak.Array:
    counts = np.array([len(r) for r in rows], dtype=np.int64)
    flat = np.array([v for r in rows for v in r], dtype=dtype)
    return ak.unflatten(flat, counts)


def columns_from_events(events: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The store columns of the search contract for hand-made events (ids 0, 1, …)."""
    cols: dict[str, Any] = {}
    for i, (name, dtype) in enumerate(
        (("pt", np.float32), ("eta", np.float32), ("phi", np.float32), ("pdgid", np.int32))
    ):
        cols[f"leptons/{name}"] = _jagged([[lep[i] for lep in e["leptons"]] for e in events], dtype)
    cols["leptons/isolation"] = _jagged([[0.0 for _ in e["leptons"]] for e in events], np.float32)
    for i, (name, dtype) in enumerate(
        (("pt", np.float32), ("eta", np.float32), ("phi", np.float32), ("btag", np.int8))
    ):
        cols[f"jets/{name}"] = _jagged([[jet[i] for jet in e["jets"]] for e in events], dtype)
    cols["jets/mass"] = _jagged([[5.0 for _ in e["jets"]] for e in events], np.float32)
    cols["met/met"] = np.array([e["met"] for e in events], np.float32)
    cols["met/phi"] = np.array([e["met_phi"] for e in events], np.float32)
    cols["met/significance"] = np.array([e["met_significance"] for e in events], np.float32)
    cols["met/sumet"] = np.full(len(events), 500.0, np.float32)
    cols["event/weight"] = np.array([e["weight"] for e in events], np.float64)
    cols["event/generator_weight"] = np.ones(len(events), np.float64)
    cols["event/is_signal"] = np.array([e["is_signal"] for e in events], np.int8)
    cols["event/sample"] = np.array([e["sample"] for e in events], np.int16)
    cols["event/mediator_mass"] = np.array([e["mediator_mass"] for e in events], np.float32)
    cols["event/invisible_mass"] = np.array([e["invisible_mass"] for e in events], np.float32)
    cols["event/id"] = np.arange(len(events), dtype=np.int64)
    return cols


def random_events(n: int, rng: np.random.Generator) -> dict[str, Any]:
    """``n`` events with 2 OSSF leptons, 0–3 jets and random kinematics (store columns)."""
    events = []
    for _ in range(n):
        flavour = int(rng.choice([11, 13]))
        pts = np.sort(rng.uniform(26.0, 300.0, 2))[::-1]
        leptons = [
            (float(pts[k]), float(rng.uniform(-2.4, 2.4)), float(rng.uniform(-np.pi, np.pi)), pdg)
            for k, pdg in enumerate((flavour, -flavour))
        ]
        jets = [
            (
                float(rng.uniform(20, 200)),
                float(rng.uniform(-4, 4)),
                0.3 * k,
                int(rng.random() < 0.2),
            )
            for k in range(int(rng.integers(0, 4)))
        ]
        events.append(
            event(
                leptons,
                jets,
                met=float(rng.exponential(80.0)),
                met_phi=float(rng.uniform(-np.pi, np.pi)),
                met_significance=float(rng.exponential(6.0)),
                weight=float(rng.uniform(0.5, 1.5)),
                is_signal=int(rng.random() < 0.3),
            )
        )
    return columns_from_events(events)


def gaussian_table(
    n_signal: int,
    n_background: int,
    rng: np.random.Generator,
    *,
    signal_yield: float = 200.0,
    background_yield: float = 1.0e5,
) -> EventTable:
    """A table whose cut observables are Gaussians: a 200 GeV resonance with MET over a broad
    background.  Signal and background each sum to their yield [events at the luminosity]."""
    n = n_signal + n_background
    sig = np.r_[np.ones(n_signal, bool), np.zeros(n_background, bool)]

    def draw(signal: tuple[float, float], background: tuple[float, float]) -> np.ndarray:
        return np.where(
            sig, rng.normal(*signal, n), np.maximum(rng.normal(*background, n), 0.0)
        ).astype(np.float32)

    values = {name: np.zeros(n, np.float32) for name in FEATURE_NAMES}
    values["met_significance"] = draw((14.0, 3.0), (6.0, 4.0))
    values["mt"] = draw((300.0, 50.0), (150.0, 80.0))
    values["mll"] = draw((200.0, 15.0), (140.0, 80.0))
    values["mt2"] = draw((150.0, 30.0), (80.0, 40.0))
    values["met"] = draw((200.0, 40.0), (80.0, 60.0))
    values["ptll"] = draw((150.0, 40.0), (80.0, 60.0))
    values["n_bjets"] = np.where(
        sig, rng.choice(3, n, p=[0.9, 0.08, 0.02]), rng.choice(3, n, p=[0.6, 0.3, 0.1])
    ).astype(np.float32)
    event_id = rng.permutation(10 * n)[:n].astype(np.int64)
    values["flavour"] = rng.choice(np.array([11, 13], np.float32), n)  # ee or μμ, half each
    features = np.stack([values[name] for name in FEATURE_NAMES], axis=1)
    weight = np.where(sig, signal_yield / n_signal, background_yield / n_background)
    return EventTable(
        features=features,
        names=FEATURE_NAMES,
        weight=weight,
        is_signal=sig.astype(np.int8),
        sample=np.where(sig, 1, 0).astype(np.int16),
        mediator_mass=np.where(sig, 200.0, 0.0).astype(np.float32),
        invisible_mass=np.where(sig, 50.0, 0.0).astype(np.float32),
        event_id=event_id,
        sample_names=("background", "signal"),
    )
