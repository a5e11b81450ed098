"""Padding of the two leading jets when an event has fewer than two.

The thesis (§5.2.1) records pT, η and φ of the two leading jets and, for a
missing jet, sets pT = 0 and η = φ = 10 — a value outside the detector that
"has no physical meaning" but that trees cope with.  It lists the
alternatives; three are implemented:

- ``thesis``: pT = 0, η = φ = 10 (the thesis' choice);
- ``indicator``: pT = η = φ = 0 plus a ``jetN_present`` column (1 real, 0 padded),
  so a network can tell padding from a real central jet;
- ``mean``: the "classical data scientist" fill — each missing value is
  replaced by the mean over *real* jets of the *training* split.  The means
  are fitted with :meth:`JetMeans.fit` on the training table and saved as JSON;
  :func:`~heplearn.search.observables.build_table` with ``padding="mean"``
  leaves the thesis placeholders until :meth:`JetMeans.apply` replaces them.

Which jets are missing is read from the ``n_jets`` column (jet N exists iff
n_jets ≥ N), so it never depends on the placeholder values.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from heplearn.data.atomic import read_saved_text, write_text_atomically
from heplearn.errors import ConfigError, DataError

if TYPE_CHECKING:
    from heplearn.search.observables import EventTable

__all__ = [
    "JET_SLOTS",
    "PADDINGS",
    "THESIS_ANGLE",
    "JetMeans",
    "check_padding",
    "jet_present",
    "pad_values",
]

Array = np.ndarray[Any, Any]

PADDINGS = ("thesis", "indicator", "mean")
#: η and φ of a missing jet in the thesis padding (outside |η| < 4.9 and [−π, π] on purpose).
THESIS_ANGLE = 10.0
#: Number of leading jets kept in the table.
JET_SLOTS = 2
_JET_FIELDS = ("pt", "eta", "phi")
FORMAT = "heplearn-jet-means"
VERSION = 1


def check_padding(padding: str) -> str:
    """Return ``padding`` if it is a known strategy, else raise ConfigError."""
    if padding not in PADDINGS:
        raise ConfigError(
            f"padding '{padding}'",
            "the search config",
            f"it is not one of {', '.join(PADDINGS)}",
            "choose one of them",
        )
    return padding


def pad_values(padding: str) -> tuple[float, float, float]:
    """Placeholder (pT [GeV], η, φ) written into a missing jet slot by ``build_table``."""
    check_padding(padding)
    if padding == "indicator":
        return (0.0, 0.0, 0.0)
    # "mean" starts from the thesis placeholders; JetMeans.apply overwrites them.
    return (0.0, THESIS_ANGLE, THESIS_ANGLE)


def jet_present(table: EventTable, slot: int) -> Array:
    """True where the event has a jet in ``slot`` (1 = leading), from ``n_jets``."""
    present: Array = table.column("n_jets") >= slot
    return present


@dataclass(frozen=True)
class JetMeans:
    """Training-split means of jet pT [GeV], η and φ over real jets, per jet slot."""

    #: {"jet1_pt": mean, "jet1_eta": ..., "jet2_phi": ...}
    means: dict[str, float]

    @classmethod
    def fit(cls, train: EventTable) -> JetMeans:
        """Fit on the training split only (events with the jet present)."""
        means: dict[str, float] = {}
        for slot in range(1, JET_SLOTS + 1):
            present = jet_present(train, slot)
            if not np.any(present):
                raise DataError(
                    f"no events with {slot} jet{'s' if slot > 1 else ''}",
                    "the training split",
                    "mean padding needs real jets to average",
                    "use padding 'thesis' or 'indicator', or more events",
                )
            for field in _JET_FIELDS:
                name = f"jet{slot}_{field}"
                means[name] = float(np.mean(train.column(name)[present], dtype=np.float64))
        return cls(means)

    def apply(self, table: EventTable) -> EventTable:
        """A copy of ``table`` with each missing jet value replaced by its training mean."""
        features = table.features.copy()
        for slot in range(1, JET_SLOTS + 1):
            missing = ~jet_present(table, slot)
            for field in _JET_FIELDS:
                name = f"jet{slot}_{field}"
                features[missing, table.names.index(name)] = self.means[name]
        return dataclasses.replace(table, features=features)

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "version": VERSION, "means": self.means})

    @classmethod
    def from_json(cls, text: str, where: str = "the jet-means JSON") -> JetMeans:
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT or int(data["version"]) > VERSION:
                raise ValueError(f'no "format": "{FORMAT}" of a readable version')
            means = {str(k): float(v) for k, v in data["means"].items()}
            expected = {f"jet{s}_{f}" for s in range(1, JET_SLOTS + 1) for f in _JET_FIELDS}
            if set(means) != expected:
                raise ValueError(f"entries {sorted(means)} are not {sorted(expected)}")
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise DataError(
                "not a heplearn jet-means file", where, str(err), "give the file saved with a model"
            ) from err
        return cls(means)

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the JSON atomically (temporary name, then rename)."""
        return write_text_atomically(path, self.to_json(), overwrite=overwrite)

    @classmethod
    def load(cls, path: str | Path) -> JetMeans:
        return cls.from_json(read_saved_text(path, "jet-means"), str(path))
