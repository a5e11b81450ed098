"""Expanding index ranges without Python loops: the pairing step of every per-event match."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["expand_ranges", "pair_by_event"]

Array = np.ndarray[Any, Any]


def expand_ranges(starts: Array, stops: Array) -> tuple[Array, Array]:
    """For ranges [start, stop) per row: (row of each element, element index)."""
    lengths = np.maximum(np.asarray(stops) - np.asarray(starts), 0)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return rows, np.repeat(starts, lengths) + within


def pair_by_event(row_event: Array, item_event: Array) -> tuple[Array, Array]:
    """Every (row, item) pair with the same event: indices into each array."""
    order = np.argsort(item_event, kind="stable")
    sorted_events = item_event[order]
    starts = np.searchsorted(sorted_events, row_event, side="left")
    stops = np.searchsorted(sorted_events, row_event, side="right")
    rows, position = expand_ranges(starts, stops)
    return rows, order[position]
