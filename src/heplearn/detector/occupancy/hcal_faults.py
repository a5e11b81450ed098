"""Fault injection into HCAL occupancy maps, with per-channel truth.

Each map gets at most one fault: a class (dead, hot, noisy, partial) on a region of one
shape (1×1, 5×5, readout box, whole depth).  Faults act on the per-event hit probability
p of the affected channels before the counts are drawn, so their statistics stay right:

- **dead**: p = 0, the channel reads nothing.
- **hot**: the channel fires as if its rate were multiplied by a factor f (3–10 by
  default): p → 1 − (1 − p)^f, a large excess that saturates at every event.
- **noisy**: p → min(1, p·G) with G ~ Gamma(mean 1, relative σ s) drawn per channel and per
  map (s 0.3–1.0 by default): the mean stays, the variance across lumisections rises.
- **partial** (partially dead): p → g·p with a gain g (0.2–0.8 by default) per map, so
  the expected occupancy is g times nominal.

Regions: 1×1 is one channel; 5×5 is 5 ieta rows × 5 iphi columns at one depth around a
channel (iphi wraps, rows clip at |ieta| 41, and only existing channels count — beyond
|ieta| 20 fewer columns are real towers); rbx is all channels of one readout box; depth is
every channel of one depth.  Positions are random (the centre is a random existing
channel) or fixed at one channel (the thesis' "same location" samples).

A plan may restrict faults to ``allowed`` channels (a map view: one sub-detector and/or
depth): centres are drawn among them, only readout boxes that reach them are chosen, and
every region is clipped to them, so a faulty map always has a faulty channel in the view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# FAULT_CLASSES and FAULT_SHAPES are re-exported: the codes were defined here first.
from heplearn.detector.occupancy.fault_codes import FAULT_CLASSES, FAULT_SHAPES
from heplearn.detector.occupancy.hcal import HCAL_SHAPE, hcal_valid_mask, rbx_map, row_of_ieta

__all__ = [
    "FAULT_CLASSES",
    "FAULT_SHAPES",
    "FaultPlan",
    "InjectedFaults",
    "apply_faults",
    "draw_faults",
    "fault_region",
]

Array = np.ndarray[Any, Any]

_DEAD, _HOT, _NOISY, _PARTIAL = 1, 2, 3, 4


@dataclass(frozen=True)
class FaultPlan:
    """How often and how strongly maps are faulty.

    ``good_fraction`` of maps stay good; the rest pick a class with ``class_weights``
    (dead, hot, noisy, partial) and a shape with ``shape_weights`` (1x1, 5x5, rbx, depth),
    both relative.  Severity ranges are drawn uniformly per map.  ``fixed_channel`` is
    (ieta, iphi, depth) of the fixed position.  ``allowed`` (bool (82, 72, 4), default every
    existing channel) is where faults may lie; a fixed channel must be one of them.
    """

    good_fraction: float = 0.5
    class_weights: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    shape_weights: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 0.25)
    hot_factor: tuple[float, float] = (3.0, 10.0)
    noisy_spread: tuple[float, float] = (0.3, 1.0)
    partial_gain: tuple[float, float] = (0.2, 0.8)
    fixed_position: bool = False
    fixed_channel: tuple[int, int, int] = (8, 36, 1)
    # An array field: left out of == and hash (plans are compared by their settings).
    allowed: Array | None = field(default=None, compare=False)

    def allowed_mask(self) -> Array:
        """Bool (82, 72, 4): existing channels where faults may be placed."""
        if self.allowed is None:
            return hcal_valid_mask()
        allowed = np.asarray(self.allowed, dtype=bool)
        if allowed.shape != HCAL_SHAPE:
            raise ValueError(f"allowed must have shape {HCAL_SHAPE}, got {allowed.shape}")
        return allowed & hcal_valid_mask()


@dataclass(frozen=True)
class InjectedFaults:
    """Truth of N maps: class and shape labels, severity, and the per-channel class."""

    map_class: Array  # int8 (N,)
    fault_shape: Array  # int8 (N,)
    severity: Array  # float64 (N,): hot factor, noisy σ or partial gain (0 if none)
    channels: Array  # uint8 (N, 82, 72, 4)


def _channel_index(ieta: int, iphi: int, depth: int) -> tuple[int, int, int]:
    return int(row_of_ieta(ieta)), iphi - 1, depth - 1


def fault_region(shape: str, centre: tuple[int, int, int], allowed: Array | None = None) -> Array:
    """Bool (82, 72, 4): existing channels of region ``shape`` around array index ``centre``
    (row, column, depth index) — the 5×5 box, its readout box, or its whole depth — that
    are also ``allowed`` (default: every existing channel)."""
    region = np.zeros(HCAL_SHAPE, dtype=bool)
    row, col, depth = centre
    if shape == "1x1":
        region[row, col, depth] = True
    elif shape == "5x5":
        rows = np.arange(max(row - 2, 0), min(row + 3, HCAL_SHAPE[0]))
        cols = np.arange(col - 2, col + 3) % HCAL_SHAPE[1]
        region[np.ix_(rows, cols, np.array([depth]))] = True
    elif shape == "rbx":
        region = rbx_map() == rbx_map()[row, col, depth]
    elif shape == "depth":
        region[..., depth] = True
    else:
        raise ValueError(f"unknown fault shape {shape!r}")  # a bug: shapes come from FaultPlan
    return region & (hcal_valid_mask() if allowed is None else allowed & hcal_valid_mask())


def _centre(
    plan: FaultPlan, rng: np.random.Generator, shape: str, allowed: Array
) -> tuple[int, int, int]:
    if plan.fixed_position:
        centre = _channel_index(*plan.fixed_channel)
        if not allowed[centre]:
            raise ValueError(f"fixed channel {plan.fixed_channel} is not an allowed channel")
        return centre
    valid = np.argwhere(allowed)
    if shape == "rbx":
        # Every readout box reaching the allowed channels equally likely, whatever its size;
        # without a restriction these are all 108 boxes, drawn as before.
        boxes = np.unique(rbx_map()[allowed])
        box = int(boxes[rng.integers(0, len(boxes))])
        valid = np.argwhere((rbx_map() == box) & allowed)
    row, col, depth = valid[rng.integers(0, len(valid))]
    return int(row), int(col), int(depth)


def draw_faults(rng: np.random.Generator, n: int, plan: FaultPlan) -> InjectedFaults:
    """Draw the faults of ``n`` maps (classes, shapes, severities, regions)."""
    class_p = np.asarray(plan.class_weights, dtype=np.float64)
    shape_p = np.asarray(plan.shape_weights, dtype=np.float64)
    faulty = rng.random(n) >= plan.good_fraction
    fault_class = 1 + rng.choice(4, size=n, p=class_p / class_p.sum())
    fault_shape = 1 + rng.choice(4, size=n, p=shape_p / shape_p.sum())
    map_class = np.where(faulty, fault_class, 0).astype(np.int8)
    shapes = np.where(faulty, fault_shape, 0).astype(np.int8)
    ranges = {_HOT: plan.hot_factor, _NOISY: plan.noisy_spread, _PARTIAL: plan.partial_gain}
    severity = np.zeros(n)
    for code, (low, high) in ranges.items():
        chosen = map_class == code
        severity[chosen] = rng.uniform(low, high, int(chosen.sum()))
    channels = np.zeros((n, *HCAL_SHAPE), dtype=np.uint8)
    allowed = plan.allowed_mask()
    if faulty.any() and not allowed.any():
        raise ValueError("no allowed channel to place a fault on")
    for i in np.flatnonzero(faulty):
        shape = FAULT_SHAPES[shapes[i]]
        region = fault_region(shape, _centre(plan, rng, shape, allowed), allowed)
        channels[i][region] = map_class[i]
    return InjectedFaults(map_class, shapes, severity, channels)


def apply_faults(p: Array, faults: InjectedFaults, rng: np.random.Generator) -> Array:
    """Hit probabilities (N, 82, 72, 4) with the faults of ``faults`` applied (new array)."""
    out = np.array(p, dtype=np.float64)
    truth = faults.channels
    severity = np.broadcast_to(faults.severity[:, None, None, None], out.shape)
    hot = truth == _HOT
    out[hot] = 1.0 - (1.0 - out[hot]) ** severity[hot]
    partial = truth == _PARTIAL
    out[partial] *= severity[partial]
    noisy = truth == _NOISY
    if noisy.any():
        spread = severity[noisy]
        shape_k = 1.0 / spread**2
        # Gamma(k, 1/k) has mean 1 and relative σ = spread.
        out[noisy] = np.minimum(out[noisy] * rng.gamma(shape_k, 1.0 / shape_k), 1.0)
    out[truth == _DEAD] = 0.0
    return out
