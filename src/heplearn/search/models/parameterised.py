"""The mass-parameterised network: one MLP over the whole signal grid, masses as inputs.

Following Baldi et al. (2016, "Parameterized neural networks for high-energy physics"),
the MLP of :mod:`heplearn.search.models.mlp` gets two extra inputs, the mediator and
invisible masses [GeV].  A signal event carries the masses of the point it was generated
at; a background event has none, so it gets a point drawn at random from the signal
points of the training split — with probability ∝ the summed training weight of that
point (``weight``) or its number of events (``count``) — so that the mass inputs alone
carry no information about the class.  The draw is seeded (validation uses seed + 1),
so training is reproducible.

At evaluation every event is given the masses of the point being tested:
``predict(table, mediator_mass=M, invisible_mass=m)``; one network then serves every
point of the grid, and points between the trained ones are interpolated.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from heplearn.config import config_to_dict, parse_config
from heplearn.errors import DataError
from heplearn.search.model_config import ParameterisedSettings
from heplearn.search.models.base import (
    Classifier,
    FitSummary,
    PointQuery,
    WeightedSplit,
)
from heplearn.search.models.mlp import NetworkCore

if TYPE_CHECKING:
    from heplearn.search.observables import EventTable

__all__ = ["MASS_INPUTS", "ParameterisedClassifier", "SignalPoints", "signal_points"]

Array = np.ndarray[Any, Any]

#: Names of the two extra network inputs (after the table's features).
MASS_INPUTS = ("mediator_mass", "invisible_mass")


class SignalPoints:
    """The distinct (m_med, m_inv) [GeV] of the signal events and the chance of drawing each."""

    def __init__(self, masses: Array, probability: Array) -> None:
        self.masses = np.asarray(masses, dtype=np.float32).reshape(-1, 2)
        self.probability = np.asarray(probability, dtype=np.float64)

    def draw(self, n: int, seed: int) -> Array:
        """``n`` points (n, 2) drawn with replacement; the same seed gives the same points."""
        rng = np.random.default_rng(seed)
        index = rng.choice(len(self.masses), size=n, p=self.probability)
        return self.masses[index]


def signal_points(table: EventTable, weights: Array, by: str) -> SignalPoints:
    """The signal points of ``table`` weighted by training weight (``weight``) or by ``count``."""
    signal = np.asarray(table.is_signal) == 1
    masses = np.stack(
        [np.asarray(table.mediator_mass)[signal], np.asarray(table.invisible_mass)[signal]], axis=1
    ).astype(np.float32)
    points, inverse = np.unique(masses, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    if by == "weight":
        share = np.bincount(inverse, weights=np.asarray(weights)[signal], minlength=len(points))
        share = np.clip(share, 0.0, None)
    else:
        share = np.bincount(inverse, minlength=len(points)).astype(np.float64)
    if not share.sum() > 0:
        raise DataError(
            "no signal point to draw from",
            "the training split",
            "the signal events have no positive weight",
            "check the signal samples and the weight scheme",
        )
    return SignalPoints(points, share / share.sum())


def _with_masses(x: Array, masses: Array) -> Array:
    return np.concatenate([np.asarray(x, np.float32), masses.astype(np.float32)], axis=1)


def _training_masses(table: EventTable, points: SignalPoints, seed: int) -> Array:
    """Masses per event: the true ones for signal, drawn ones for background."""
    signal = np.asarray(table.is_signal) == 1
    masses = np.stack(
        [np.asarray(table.mediator_mass), np.asarray(table.invisible_mass)], axis=1
    ).astype(np.float32)
    masses[~signal] = points.draw(int((~signal).sum()), seed)
    return masses


class ParameterisedClassifier(Classifier):
    """An MLP scoring events for a chosen (m_med, m_inv); see the module docstring."""

    kind = "parameterised_nn"

    def __init__(self, settings: ParameterisedSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or ParameterisedSettings()
        self.core = NetworkCore(self.settings.mlp)
        self.points: SignalPoints | None = None

    def negative_weights_allowed(self) -> bool:
        return True  # the weighted BCE takes any sign

    def _fit(
        self, train: WeightedSplit, val: WeightedSplit, run_dir: Path, progress: bool
    ) -> FitSummary:
        """Train on every signal point at once, background masses drawn per event."""
        names = train.table.names
        clash = sorted(set(MASS_INPUTS) & set(names))
        if clash:
            raise DataError(
                "mass columns among the features",
                "the event table",
                f"{clash} would enter the network twice",
                "drop them from the observables; the network adds the masses itself",
            )
        points = signal_points(train.table, train.weights, self.settings.background_masses)
        seed = self.settings.seed
        x_train = _with_masses(train.table.features, _training_masses(train.table, points, seed))
        x_val = _with_masses(val.table.features, _training_masses(val.table, points, seed + 1))
        y_train, y_val = train.labels, val.labels
        seconds, best_epoch, best_loss = self.core.train(
            (x_train, y_train, train.weights),
            (x_val, y_val, val.weights),
            (*names, *MASS_INPUTS),
            run_dir,
            progress,
        )
        self.points = points
        return FitSummary(self.kind, len(y_train), len(y_val), seconds, best_epoch, best_loss)

    def _scores(self, x: Array, table: EventTable, point: PointQuery) -> Array:
        mediator_mass, invisible_mass = point.mediator_mass, point.invisible_mass
        if mediator_mass is None or invisible_mass is None:
            raise DataError(
                "no signal point",
                "parameterised_nn prediction",
                "this network scores events for one (mediator, invisible) mass point",
                "pass mediator_mass= and invisible_mass= in GeV",
            )
        masses = np.tile(np.array([[mediator_mass, invisible_mass]], np.float32), (len(x), 1))
        return self.core.scores(_with_masses(x, masses))

    def _meta(self) -> dict[str, Any]:
        assert self.points is not None
        return {
            "settings": config_to_dict(self.core.settings),
            "parameterised": config_to_dict(self.settings),
            "signal_points": self.points.masses.tolist(),
            "point_probability": self.points.probability.tolist(),
        }

    def _write_files(self, tmp: Path) -> None:
        self.core.write(tmp)

    @classmethod
    def _restore(
        cls, folder: Path, meta: dict[str, Any], names: tuple[str, ...]
    ) -> ParameterisedClassifier:
        settings = parse_config(ParameterisedSettings, meta.get("parameterised", {}), str(folder))
        model = cls(settings)
        model.core = NetworkCore.read(folder, meta, len(names) + len(MASS_INPUTS))
        model.points = SignalPoints(
            np.asarray(meta["signal_points"]), np.asarray(meta["point_probability"])
        )
        return model
