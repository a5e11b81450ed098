"""Cut-and-count: the thesis' cuts and cuts optimised on the training split.

Thesis Table 5.3: E_T^miss significance > 10, m_T > 160 GeV, m_ℓℓ > 120 GeV,
no b-jet, m_T2 > 110 GeV; counted with the Asimov Z (Eq. 5.3).

The optimised cut-and-count scans one threshold per (observable, direction)
*slot* — by default E_T^miss significance, E_T^miss, m_T, m_T2, pT^ℓℓ from
below, m_ℓℓ from below and above (a window around a resonance, which the thesis
noted would help but did not use) and n_b ≤ value — coordinate by coordinate:
starting from the thesis cuts, each slot in turn takes the grid value (or
"no cut") maximising Z on the training split with the other cuts fixed,
until a full round brings no gain (at most ``max_rounds``).  The grid of a
slot is the thesis value plus ``n_grid`` quantiles of that observable over the
training signal.  Regions with fewer than ``min_background`` expected or
``min_background_events`` simulated or ``min_effective_events`` effective background
events ((Σw)²/Σw², which a few heavy events keep low) are never chosen, and
the maximised Z includes the background's MC statistical uncertainty (see
:mod:`heplearn.search.significance`); the reported Z uses σ_b alone.
Evaluate the result on held-out events with :func:`cut_and_count`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from heplearn.search.significance import (
    MIN_BACKGROUND,
    MIN_BACKGROUND_EVENTS,
    MIN_EFFECTIVE_EVENTS,
    CountResult,
    count,
    effective_events,
    selection_z,
)

if TYPE_CHECKING:
    from heplearn.search.observables import EventTable

__all__ = [
    "SCAN_SLOTS",
    "THESIS_CUTS",
    "Cut",
    "OptimisedCuts",
    "apply_cuts",
    "cut_and_count",
    "optimise_cuts",
]

Array = np.ndarray[Any, Any]

_OPS: dict[str, Callable[[Array, Any], Array]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Cut:
    """Keep events with ``variable op value`` (values in GeV for masses and momenta)."""

    variable: str
    op: str
    value: float

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"unknown comparison {self.op!r}; use one of {list(_OPS)}")

    def mask(self, table: EventTable) -> Array:
        out: Array = _OPS[self.op](table.column(self.variable), np.float32(self.value))
        return out

    def describe(self) -> str:
        return f"{self.variable} {self.op} {self.value:g}"

    def to_dict(self) -> dict[str, Any]:
        return {"variable": self.variable, "op": self.op, "value": self.value}


THESIS_CUTS = (
    Cut("met_significance", ">", 10.0),
    Cut("mt", ">", 160.0),
    Cut("mll", ">", 120.0),
    Cut("n_bjets", "==", 0.0),
    Cut("mt2", ">", 110.0),
)

#: (observable, comparison) pairs scanned by :func:`optimise_cuts`.
SCAN_SLOTS: tuple[tuple[str, str], ...] = (
    ("met_significance", ">"),
    ("met", ">"),
    ("mt", ">"),
    ("mll", ">"),
    ("mll", "<"),
    ("mt2", ">"),
    ("ptll", ">"),
    ("n_bjets", "<="),
)


def apply_cuts(table: EventTable, cuts: Sequence[Cut]) -> Array:
    """Boolean mask of the events passing every cut."""
    mask = np.ones(len(table), dtype=bool)
    for cut in cuts:
        mask &= cut.mask(table)
    return mask


def cut_and_count(table: EventTable, cuts: Sequence[Cut], sigma_b_rel: float = 0.0) -> CountResult:
    """s, b (events at the luminosity, from ``table.weight``) and Asimov Z after ``cuts``."""
    return count(apply_cuts(table, cuts), table.weight, table.is_signal, sigma_b_rel)


@dataclass(frozen=True)
class OptimisedCuts:
    """The cuts chosen on the training split and their training-split count."""

    cuts: tuple[Cut, ...]
    train: CountResult

    def to_dict(self) -> dict[str, Any]:
        return {"cuts": [c.to_dict() for c in self.cuts], "train": self.train.to_dict()}


def _thesis_value(variable: str, op: str) -> float | None:
    for cut in THESIS_CUTS:
        if cut.variable == variable and (cut.op == op or (op == "<=" and cut.op == "==")):
            return cut.value
    return None


def _grid(table: EventTable, variable: str, op: str, n_grid: int) -> list[float | None]:
    """Candidate values of one slot: no cut, the thesis value, signal quantiles."""
    x = table.column(variable)[table.is_signal.astype(bool)]
    values: list[float | None] = [None]
    thesis = _thesis_value(variable, op)
    if thesis is not None:
        values.append(thesis)
    if variable.startswith("n_"):
        values.extend(float(v) for v in range(3))
    elif len(x):
        # Lower cuts never remove the top 5 % of the signal, upper cuts the bottom 5 %.
        low, high = (0.0, 0.95) if op in (">", ">=") else (0.05, 1.0)
        levels = np.linspace(low, high, n_grid)
        values.extend(float(v) for v in np.unique(np.quantile(x.astype(np.float64), levels)))
    return values


def optimise_cuts(
    train: EventTable,
    sigma_b_rel: float = 0.0,
    *,
    slots: Sequence[tuple[str, str]] = SCAN_SLOTS,
    n_grid: int = 20,
    max_rounds: int = 4,
    min_background: float = MIN_BACKGROUND,
    min_background_events: int = MIN_BACKGROUND_EVENTS,
    min_effective_events: float = MIN_EFFECTIVE_EVENTS,
) -> OptimisedCuts:
    """Coordinate-wise scan of one cut per slot maximising Z on ``train`` (one signal point)."""
    w = train.weight
    sig = train.is_signal.astype(bool)
    columns = {name: train.column(name) for name, _ in slots}

    def passes(slot: int, value: float | None) -> Array:
        name, op = slots[slot]
        if value is None:
            return np.ones(len(train), dtype=bool)
        out: Array = _OPS[op](columns[name], np.float32(value))
        return out

    def score(mask: Array) -> float:
        background = mask & ~sig
        b = float(w[background].sum())
        if b < min_background or np.count_nonzero(background) < min_background_events:
            return -1.0
        sumw2 = float(np.sum(w[background] ** 2))
        if effective_events(b, sumw2) < min_effective_events:
            return -1.0
        return float(selection_z(float(w[mask & sig].sum()), b, sumw2, sigma_b_rel))

    grids = [_grid(train, name, op, n_grid) for name, op in slots]
    chosen: list[float | None] = [_thesis_value(name, op) for name, op in slots]
    masks = [passes(i, v) for i, v in enumerate(chosen)]
    best = score(np.logical_and.reduce(masks))
    if best < 0:
        # The thesis cuts leave too little background here: start from no cuts.
        chosen = [None] * len(slots)
        masks = [passes(i, None) for i in range(len(slots))]
        best = score(np.logical_and.reduce(masks))
    for _ in range(max_rounds):
        improved = False
        for i in range(len(slots)):
            others = np.logical_and.reduce([m for j, m in enumerate(masks) if j != i])
            for value in grids[i]:
                candidate = passes(i, value)
                z = score(others & candidate)
                # Strictly better by a relative 1e-9 so ties keep the looser, earlier choice.
                if z > best * (1 + 1e-9) + 1e-12:
                    best, chosen[i], masks[i] = z, value, candidate
                    improved = True
        if not improved:
            break
    cuts = tuple(
        Cut(name, op, float(value))
        for (name, op), value in zip(slots, chosen, strict=True)
        if value is not None
    )
    return OptimisedCuts(cuts, cut_and_count(train, cuts, sigma_b_rel))
