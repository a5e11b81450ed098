"""Histogram equalisation of MC inputs to data: quantile maps, 1-D and conditional (chained).

A quantile map sends an MC value x to the data value with the same cumulative
probability, y = F_data⁻¹(F_MC(x)), so the mapped MC has the data's distribution
of that variable (thesis appendix 9.3).  Both CDFs are kept as quantile grids
(``probabilities`` → ``mc`` and ``data`` values), so a transform is a few
thousand plain numbers in JSON, never a pickle.

* Atoms (a value many clusters share: 0 for Δφ of a photon, an integer track
  count) are spread over their CDF step by a uniform u that is a pure function of
  the cluster (its event id and η, :func:`cluster_uniforms`), so the map is
  reproducible whatever the batching; integer variables are mapped onto the
  data's integers (step inverse).
* Outside the MC range a value is shifted by the difference of the end points.
* :class:`MappingTransform` ``conditional``: the conditioning variables
  (E_acc and η) are mapped 1-D first; every other variable is then mapped
  within bins of the *mapped* p_T = E_acc/cosh η and |η| (a chain: the bins of
  MC and data mean the same clusters once the kinematics agree), falling back
  to the inclusive map in bins with fewer than ``min_bin`` clusters in either sample.

Correlations between two non-kinematic variables are not mapped (only through
their common dependence on p_T and |η|); the MC-vs-data classifier measures what
is left (:mod:`heplearn.calib.mc_data_classifier`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.data.atomic import read_saved_text, write_text_atomically
from heplearn.data.splits import hash_uniform
from heplearn.errors import DataError

__all__ = [
    "CONDITIONING",
    "DEFAULT_ABS_ETA_EDGES",
    "MappingTransform",
    "QuantileMap",
    "cluster_uniforms",
    "is_discrete",
    "load_transform",
]

Array = np.ndarray[Any, Any]

FORMAT = "heplearn-mc-to-data"
VERSION = 1
#: The kinematics every conditional map is binned in, mapped first (the chain's first links).
CONDITIONING = ("e_acc", "eta")
#: Inner |η| edges of the conditional bins: barrel halves | crack and end-cap.
DEFAULT_ABS_ETA_EDGES = (0.8, 1.5)
#: Most points of one quantile grid (a grid never has more than one per 5 clusters).
MAX_POINTS = 201
#: Integer-valued variables with at most this many values are mapped as discrete.
MAX_DISCRETE_VALUES = 64


def grid_points(n: int, steps: bool = False) -> int:
    """Points of a quantile grid fitted on n clusters: n^(1/3), or 2√n with ``steps``.

    A map carries the statistical noise of the samples it was fitted on as a fixed
    pattern that every mapped cluster shares, and a classifier finds it.  Mapping
    4,000 clusters of one gamma distribution onto 4,000 others and scoring on fresh
    ones, a one-variable classifier's AUC was 0.53–0.54 with 2√n points (126),
    0.51–0.53 with 32 and 0.50–0.51 with 16 ≈ n^(1/3) (the histogram rule, which
    balances the shape a grid follows against its noise).  A discrete variable, or
    one with atoms (values many clusters share), needs points on each side of every
    step of its CDF, so it keeps the fine grid.
    """
    if steps:
        return int(np.clip(round(2 * np.sqrt(n)), 11, MAX_POINTS))
    return int(np.clip(round(np.cbrt(n)), 11, MAX_POINTS))


def cluster_uniforms(event_id: Array, eta: Array, salt: int) -> Array:
    """A uniform in [0, 1) per cluster: a hash of its event id, the bits of its η and ``salt``."""
    bits = np.asarray(eta, dtype=np.float32).view(np.int32).astype(np.int64)
    return hash_uniform(np.asarray(event_id, dtype=np.int64), bits, seed=salt)


def is_discrete(*samples: Array) -> bool:
    """Integer values only, and few of them (a count, an index)."""
    values = np.concatenate([np.asarray(s, dtype=np.float64) for s in samples])
    return bool(
        np.all(values == np.round(values)) and len(np.unique(values)) <= MAX_DISCRETE_VALUES
    )


def _has_atoms(*samples: Array) -> bool:
    """A value holds at least 1 % of a sample."""
    for sample in samples:
        _, counts = np.unique(sample, return_counts=True)
        if len(sample) and counts.max() >= 0.01 * len(sample):
            return True
    return False


@dataclass(frozen=True)
class QuantileMap:
    """y = F_data⁻¹(F_MC(x)) on quantile grids at ``probabilities`` (0 … 1)."""

    probabilities: Array
    mc: Array
    data: Array
    discrete: bool

    @classmethod
    def fit(cls, mc: Array, data: Array, *, discrete: bool | None = None) -> QuantileMap:
        mc, data = np.asarray(mc, np.float64), np.asarray(data, np.float64)
        if discrete is None:
            discrete = is_discrete(mc, data)
        points = grid_points(min(len(mc), len(data)), discrete or _has_atoms(mc, data))
        p = np.linspace(0.0, 1.0, points)
        if discrete:
            low, high = (
                np.quantile(mc, p, method="inverted_cdf"),
                np.quantile(data, p, method="inverted_cdf"),
            )
        else:
            low, high = np.quantile(mc, p), np.quantile(data, p)
        return cls(p, np.asarray(low, np.float64), np.asarray(high, np.float64), discrete)

    def cdf(self, values: Array, u: Array) -> Array:
        """F_MC of each value; a value on an atom gets a point of its CDF step drawn by u."""
        q, p = self.mc, self.probabilities
        x = np.asarray(values, np.float64)
        cdf = np.interp(x, q, p)
        first = np.searchsorted(q, x, side="left")
        after = np.searchsorted(q, x, side="right")
        hits = after - first
        atom = hits >= (1 if self.discrete else 2)
        if np.any(atom):
            # The step of an atom runs from half-way to the grid point below its first
            # occurrence to half-way to the one above its last.
            lo_i, hi_i = first[atom], after[atom] - 1
            low = np.where(lo_i > 0, 0.5 * (p[lo_i] + p[np.maximum(lo_i - 1, 0)]), 0.0)
            top = len(p) - 1
            high = np.where(hi_i < top, 0.5 * (p[hi_i] + p[np.minimum(hi_i + 1, top)]), 1.0)
            cdf[atom] = low + np.asarray(u)[atom] * (high - low)
        return cdf

    def apply(self, values: Array, u: Array) -> Array:
        """The mapped values (float64)."""
        x = np.asarray(values, np.float64)
        cdf = self.cdf(x, u)
        if self.discrete:
            index = np.searchsorted(self.probabilities, cdf, side="left")
            out = self.data[np.clip(index, 0, len(self.data) - 1)]
        else:
            out = np.interp(cdf, self.probabilities, self.data)
        below, above = x < self.mc[0], x > self.mc[-1]
        out = np.where(below, x - self.mc[0] + self.data[0], out)
        return np.where(above, x - self.mc[-1] + self.data[-1], out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "discrete": self.discrete,
            "points": len(self.probabilities),
            "mc": [float(v) for v in self.mc],
            "data": [float(v) for v in self.data],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuantileMap:
        points = int(data["points"])
        mc = np.asarray(data["mc"], np.float64)
        target = np.asarray(data["data"], np.float64)
        if len(mc) != points or len(target) != points or points < 2:
            raise ValueError(f"a map has {len(mc)}/{len(target)} values for {points} points")
        if np.any(np.diff(mc) < 0) or np.any(np.diff(target) < 0):
            raise ValueError("quantiles are not increasing")
        return cls(np.linspace(0.0, 1.0, points), mc, target, bool(data["discrete"]))


def _bins(pt: Array, abs_eta: Array, pt_edges: Array, eta_edges: Array) -> Array:
    """Flat (p_T, |η|) bin index of each cluster (inner edges; the outer bins are open)."""
    i = np.searchsorted(pt_edges, pt, side="right")
    j = np.searchsorted(eta_edges, abs_eta, side="right")
    out: Array = i * (len(eta_edges) + 1) + j
    return out


def _kinematics(columns: Mapping[str, Array]) -> tuple[Array, Array]:
    e_acc = np.asarray(columns["e_acc"], np.float64)
    eta = np.asarray(columns["eta"], np.float64)
    return e_acc / np.cosh(eta), np.abs(eta)


@dataclass(frozen=True)
class MappingTransform:
    """Per-variable quantile maps of MC to data, inclusive or in (p_T, |η|) bins.

    ``variables`` are scalar names (``scalars/<name>`` in a store), in chain order.
    ``binned[name]`` holds one map per (p_T, |η|) bin, or None where the bin fell
    back to the inclusive map; it is empty for a 1-D transform.
    """

    variables: tuple[str, ...]
    inclusive: dict[str, QuantileMap]
    pt_edges: Array | None = None
    abs_eta_edges: Array | None = None
    binned: dict[str, list[QuantileMap | None]] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def conditional(self) -> bool:
        return self.pt_edges is not None

    @classmethod
    def fit(
        cls,
        mc: Mapping[str, Array],
        data: Mapping[str, Array],
        variables: Sequence[str],
        *,
        conditional: bool = False,
        pt_edges: Sequence[float] | None = None,
        abs_eta_edges: Sequence[float] = DEFAULT_ABS_ETA_EDGES,
        min_bin: int = 100,
        mc_keys: tuple[Array, Array] | None = None,
        provenance: Mapping[str, Any] | None = None,
    ) -> MappingTransform:
        """Fit on the columns ``mc`` and ``data`` (name → values; E_acc and η always present).

        ``mc_keys`` (event id, η) draw the atoms' uniforms of the MC when the
        conditional bins are found from the mapped kinematics.
        """
        order = [v for v in CONDITIONING if v in variables] + [
            v for v in variables if v not in CONDITIONING
        ]
        inclusive = {name: QuantileMap.fit(mc[name], data[name]) for name in order}
        if not conditional:
            return cls(tuple(order), inclusive, provenance=dict(provenance or {}))
        n_mc = len(mc["e_acc"])
        keys: tuple[Array, Array] = mc_keys or (np.arange(n_mc), np.asarray(mc["eta"]))
        mapped = dict(mc)
        for salt, name in enumerate(order):
            if name in CONDITIONING:
                mapped[name] = inclusive[name].apply(
                    mc[name], cluster_uniforms(keys[0], keys[1], salt)
                )
        pt_data, abs_eta_data = _kinematics(data)
        if pt_edges is None:
            pt_edges = tuple(float(v) for v in np.quantile(pt_data, [1 / 3, 2 / 3]))
        pt_inner = np.asarray(pt_edges, np.float64)
        eta_inner = np.asarray(abs_eta_edges, np.float64)
        bin_mc = _bins(*_kinematics(mapped), pt_inner, eta_inner)
        bin_data = _bins(pt_data, abs_eta_data, pt_inner, eta_inner)
        n_bins = (len(pt_inner) + 1) * (len(eta_inner) + 1)
        binned: dict[str, list[QuantileMap | None]] = {}
        for name in order:
            if name in CONDITIONING:
                continue
            maps: list[QuantileMap | None] = []
            discrete = inclusive[name].discrete
            for b in range(n_bins):
                in_mc, in_data = bin_mc == b, bin_data == b
                if min(in_mc.sum(), in_data.sum()) < min_bin:
                    maps.append(None)
                    continue
                maps.append(
                    QuantileMap.fit(
                        np.asarray(mc[name])[in_mc],
                        np.asarray(data[name])[in_data],
                        discrete=discrete,
                    )
                )
            binned[name] = maps
        return cls(tuple(order), inclusive, pt_inner, eta_inner, binned, dict(provenance or {}))

    def apply(
        self, columns: Mapping[str, Array], event_id: Array, eta: Array | None = None
    ) -> dict[str, Array]:
        """Mapped copies of the transform's variables among ``columns`` (others untouched).

        ``event_id`` and the raw ``eta`` (default ``columns["eta"]``) key the atoms'
        uniforms.  A conditional transform needs ``e_acc`` and ``eta`` in ``columns``.
        """
        out = {name: np.asarray(values) for name, values in columns.items()}
        keys = (np.asarray(event_id), np.asarray(columns["eta"] if eta is None else eta))
        for salt, name in enumerate(self.variables):
            if name in CONDITIONING and name in out:
                out[name] = self.inclusive[name].apply(
                    out[name], cluster_uniforms(keys[0], keys[1], salt)
                )
        bins = None
        if self.conditional:
            assert self.pt_edges is not None and self.abs_eta_edges is not None
            kinematics = {"e_acc": out["e_acc"], "eta": out["eta"]}
            bins = _bins(*_kinematics(kinematics), self.pt_edges, self.abs_eta_edges)
        for salt, name in enumerate(self.variables):
            if name in CONDITIONING or name not in out:
                continue
            raw = np.asarray(columns[name], np.float64)
            u = cluster_uniforms(keys[0], keys[1], salt)
            mapped = self.inclusive[name].apply(raw, u)
            for b, quantile_map in enumerate(self.binned.get(name, [])):
                inside = bins == b
                if quantile_map is not None and np.any(inside):
                    mapped[inside] = quantile_map.apply(raw[inside], u[inside])
            out[name] = mapped
        return out

    def to_json(self) -> str:
        body: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "kind": "conditional" if self.conditional else "1d",
            "variables": list(self.variables),
            "inclusive": {name: m.to_dict() for name, m in self.inclusive.items()},
            "provenance": self.provenance,
        }
        if self.conditional:
            assert self.pt_edges is not None and self.abs_eta_edges is not None
            body["conditioning"] = {
                "pt_inner_edges": [float(v) for v in self.pt_edges],
                "abs_eta_inner_edges": [float(v) for v in self.abs_eta_edges],
                "pt": "scalars/e_acc / cosh(scalars/eta), after the 1-D maps of both",
            }
            body["binned"] = {
                name: [None if m is None else m.to_dict() for m in maps]
                for name, maps in self.binned.items()
            }
        return json.dumps(body, allow_nan=False) + "\n"

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        return write_text_atomically(path, self.to_json(), overwrite=overwrite)

    @classmethod
    def from_json(cls, text: str) -> MappingTransform:
        data = json.loads(text)
        if data.get("format") != FORMAT or int(data["version"]) > VERSION:
            raise ValueError(f"format {data.get('format')!r} version {data.get('version')!r}")
        variables = tuple(str(v) for v in data["variables"])
        inclusive = {name: QuantileMap.from_dict(data["inclusive"][name]) for name in variables}
        if data["kind"] == "1d":
            return cls(variables, inclusive, provenance=dict(data.get("provenance", {})))
        conditioning = data["conditioning"]
        pt_edges = np.asarray(conditioning["pt_inner_edges"], np.float64)
        eta_edges = np.asarray(conditioning["abs_eta_inner_edges"], np.float64)
        n_bins = (len(pt_edges) + 1) * (len(eta_edges) + 1)
        binned: dict[str, list[QuantileMap | None]] = {}
        for name, maps in data["binned"].items():
            if name not in variables or len(maps) != n_bins:
                raise ValueError(f"binned maps of {name!r} do not match the variables and bins")
            binned[name] = [None if m is None else QuantileMap.from_dict(m) for m in maps]
        return cls(
            variables, inclusive, pt_edges, eta_edges, binned, dict(data.get("provenance", {}))
        )


def load_transform(path: str | Path) -> MappingTransform:
    """A transform saved by ``calib compare``; one DataError naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            "no MC-to-data transform",
            str(path),
            "the file does not exist",
            "give a mc_to_data_*.json written by 'heplearn calib compare' (features.mc_to_data)",
        )
    text = read_saved_text(path, "MC-to-data transform")
    try:
        return MappingTransform.from_json(text)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise DataError(
            "not a heplearn MC-to-data transform",
            str(path),
            f"an entry is missing or malformed ({err})",
            "give a mc_to_data_*.json written by 'heplearn calib compare'",
        ) from err
