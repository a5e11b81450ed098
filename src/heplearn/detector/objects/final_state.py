"""The generated final state of a shard of events: the input of the search reconstruction.

All events of a shard live in flat per-particle arrays with per-event offsets
(``offsets[i]:offsets[i + 1]`` are the particles of event ``i``), so that the
reconstruction can work on every event at once.  Only *visible* final-state
particles are listed; neutrinos and BSM invisibles enter only through the
per-event sums ``invisible_px``/``invisible_py`` (the truth missing momentum).
Momenta and energies are in GeV.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from heplearn.errors import DataError

__all__ = ["FinalState"]

Array = np.ndarray[Any, Any]

_PARTICLE_FIELDS = ("pdgid", "px", "py", "pz", "e", "charge", "prompt")
_EVENT_FIELDS = ("invisible_px", "invisible_py")


@dataclass(frozen=True)
class FinalState:
    """Visible final-state particles of many events (flat arrays + offsets), with b-hadron truth.

    offsets: int64 (n_events + 1,), particle ranges of the events.
    pdgid: int32 per particle (final state, status > 0).
    px, py, pz, e: float64 per particle [GeV].
    charge: float32 per particle [e].
    prompt: bool per particle, True when not from a hadron decay.
    b_hadrons: float64 (n_b, 4) px, py, pz, e [GeV] of weakly-decaying b hadrons.
    b_offsets: int64 (n_events + 1,), ranges of ``b_hadrons`` per event.
    invisible_px, invisible_py: float64 per event [GeV], Σ of neutrinos and BSM invisibles.
    """

    offsets: Array
    pdgid: Array
    px: Array
    py: Array
    pz: Array
    e: Array
    charge: Array
    prompt: Array
    b_hadrons: Array
    b_offsets: Array
    invisible_px: Array
    invisible_py: Array

    @property
    def n_events(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_particles(self) -> int:
        return len(self.pdgid)

    @property
    def counts(self) -> Array:
        """Number of visible particles per event (int64)."""
        counts: Array = np.diff(self.offsets)
        return counts

    @property
    def event_index(self) -> Array:
        """Event index of every particle (int64, length ``n_particles``)."""
        index: Array = np.repeat(np.arange(self.n_events, dtype=np.int64), self.counts)
        return index

    def event_slice(self, event: int) -> slice:
        """Particle range of one event."""
        return slice(int(self.offsets[event]), int(self.offsets[event + 1]))

    def validate(self, where: str = "the generated final state") -> None:
        """Check lengths, offsets and finiteness; raise DataError with the first problem."""
        problems = _problems(self)
        if problems:
            raise DataError(
                "final state",
                where,
                problems[0],
                "fix the generator output (particles, offsets and b hadrons must agree)",
            )

    @staticmethod
    def concatenate(parts: list[FinalState]) -> FinalState:
        """Join the events of several final states (in order)."""
        if not parts:
            return FinalState.empty()

        def offsets_of(name: str) -> Array:
            pieces = [np.zeros(1, dtype=np.int64)]
            start = 0
            for part in parts:
                offsets = getattr(part, name)
                pieces.append(offsets[1:] - offsets[0] + start)
                start += int(offsets[-1] - offsets[0])
            joined: Array = np.concatenate(pieces).astype(np.int64)
            return joined

        def join(name: str) -> Array:
            joined: Array = np.concatenate([getattr(part, name) for part in parts])
            return joined

        return FinalState(
            offsets=offsets_of("offsets"),
            **{name: join(name) for name in _PARTICLE_FIELDS + _EVENT_FIELDS},
            b_hadrons=np.concatenate([p.b_hadrons.reshape(-1, 4) for p in parts]),
            b_offsets=offsets_of("b_offsets"),
        )

    @staticmethod
    def from_events(events: Sequence[Mapping[str, Any]]) -> FinalState:
        """Build from one mapping per event (an event loop, a test, an LHE reader).

        Keys: ``pdgid px py pz e charge`` (per-particle sequences), optional ``prompt``
        (default True), ``b_hadrons`` ((k, 4) px, py, pz, e), ``invisible_px`` and
        ``invisible_py`` (floats, default 0).
        """

        def column(name: str, dtype: Any, default: Any = None) -> Array:
            pieces = [
                np.asarray(
                    event[name] if name in event else np.full(len(event["pdgid"]), default),
                    dtype=dtype,
                ).reshape(-1)
                for event in events
            ]
            joined: Array = np.concatenate(pieces) if pieces else np.zeros(0, dtype=dtype)
            return joined.astype(dtype)

        counts = [len(event["pdgid"]) for event in events]
        b_parts = [
            np.asarray(event.get("b_hadrons", np.zeros((0, 4))), dtype=np.float64).reshape(-1, 4)
            for event in events
        ]
        return FinalState(
            offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            pdgid=column("pdgid", np.int32),
            px=column("px", np.float64),
            py=column("py", np.float64),
            pz=column("pz", np.float64),
            e=column("e", np.float64),
            charge=column("charge", np.float32),
            prompt=column("prompt", bool, True),
            b_hadrons=np.concatenate(b_parts) if b_parts else np.zeros((0, 4)),
            b_offsets=np.concatenate([[0], np.cumsum([len(b) for b in b_parts])]).astype(np.int64),
            invisible_px=np.array([float(ev.get("invisible_px", 0.0)) for ev in events]),
            invisible_py=np.array([float(ev.get("invisible_py", 0.0)) for ev in events]),
        )

    @staticmethod
    def empty(n_events: int = 0) -> FinalState:
        """A final state of ``n_events`` events without particles (typed, zero-length arrays)."""
        zeros = np.zeros(0, dtype=np.float64)
        return FinalState(
            offsets=np.zeros(n_events + 1, dtype=np.int64),
            pdgid=np.zeros(0, dtype=np.int32),
            px=zeros,
            py=zeros,
            pz=zeros,
            e=zeros,
            charge=np.zeros(0, dtype=np.float32),
            prompt=np.zeros(0, dtype=bool),
            b_hadrons=np.zeros((0, 4), dtype=np.float64),
            b_offsets=np.zeros(n_events + 1, dtype=np.int64),
            invisible_px=np.zeros(n_events, dtype=np.float64),
            invisible_py=np.zeros(n_events, dtype=np.float64),
        )


def _check_offsets(offsets: Array, n_items: int, name: str) -> str | None:
    if offsets.ndim != 1 or len(offsets) < 1:
        return f"{name} must be a 1-d array of n_events + 1 entries"
    if int(offsets[0]) != 0 or int(offsets[-1]) != n_items:
        return f"{name} must start at 0 and end at {n_items}, got {offsets[0]}..{offsets[-1]}"
    if np.any(np.diff(offsets) < 0):
        return f"{name} must not decrease"
    return None


def _problems(state: FinalState) -> list[str]:
    n = state.n_particles
    problems = [
        f"'{name}' has {len(getattr(state, name))} entries, pdgid has {n}"
        for name in _PARTICLE_FIELDS
        if len(getattr(state, name)) != n
    ]
    problems.extend(
        f"'{name}' has {len(getattr(state, name))} entries, not n_events"
        for name in _EVENT_FIELDS
        if len(getattr(state, name)) != state.n_events
    )
    if state.b_hadrons.ndim != 2 or state.b_hadrons.shape[1] != 4:
        problems.append(f"'b_hadrons' must have shape (n_b, 4), got {state.b_hadrons.shape}")
    if len(state.b_offsets) != len(state.offsets):
        problems.append("'b_offsets' and 'offsets' must both have n_events + 1 entries")
    for offsets, size, name in (
        (state.offsets, n, "offsets"),
        (state.b_offsets, len(state.b_hadrons), "b_offsets"),
    ):
        problem = _check_offsets(np.asarray(offsets), size, name)
        if problem:
            problems.append(problem)
    for name in ("px", "py", "pz", "e", "invisible_px", "invisible_py", "b_hadrons"):
        values = np.asarray(getattr(state, name), dtype=np.float64)
        if values.size and not np.all(np.isfinite(values)):
            problems.append(f"'{name}' holds NaN or infinite values")
    return problems
