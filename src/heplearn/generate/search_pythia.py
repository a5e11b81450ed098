"""Run Pythia 8 for one shard of a search sample and return its final state as flat arrays.

Events come from ``Pythia.nextBatch`` (the ``pythia8mc`` Awkward interface), so
the event record crosses into Python as whole columns and every per-particle
step below is numpy over all particles of the shard at once — no Python loop
over particles (a loop over the ≈600 particles of a tt̄ event costs more than
generating it).

From the full record we keep:

- visible final-state particles (status > 0, not invisible) with their charge, and a
  ``prompt`` flag: no hadron decay anywhere up their mother chain (leptons from W/Z/τ
  are prompt, those from B/D decays are not);
- weakly-decaying b hadrons (the last b hadron of a chain: none of its daughters is a
  b hadron), the truth for b-tagging;
- the per-event sum of invisible momenta (neutrinos, DM states): the truth E_T^miss;
- Pythia's cross-section estimate ``sigmaGen`` [mb → pb] and the generator weight of
  every event (1 for internal processes; the LHE weight for user files).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from heplearn.detector.objects.final_state import FinalState
from heplearn.errors import ConfigError, DataError
from heplearn.generate.search_processes import INVISIBLE_PDGIDS

__all__ = [
    "GeneratedShard",
    "final_state_from_record",
    "pythia_seed",
    "run_pythia",
    "truth_dilepton_mass",
]

Array = np.ndarray[Any, Any]

_PB_PER_MB = 1e9
#: Events per ``nextBatch`` call: bounds the memory of the Awkward record (≈600 particles each).
_BATCH = 500


@dataclass(frozen=True)
class GeneratedShard:
    """The events of one shard: final state, generator weights and the cross section.

    ``sigma_pb`` is Pythia's estimate of the cross section of the generated phase space
    (decay branching ratios included) after this shard's events [pb].
    """

    final_state: FinalState
    generator_weight: Array  # float64 (n_events,)
    sigma_pb: float

    @property
    def n_events(self) -> int:
        return self.final_state.n_events


def pythia_seed(seed: int, sample: str, shard: int) -> int:
    """Pythia's seed for (run seed, sample name, shard of the sample), in [1, 900 000 000].

    Keyed by the sample *name*, so adding or reordering samples leaves other samples' events.
    """
    key = zlib.crc32(sample.encode())
    state = np.random.SeedSequence([seed, key, shard, 7]).generate_state(1)[0]
    return int(state % 900_000_000) + 1


def _is_hadron(abs_id: Array) -> Array:
    # Mesons and baryons: ≥ 3 digits, not a diquark (tens digit 0), not a BSM code.
    mask: Array = (abs_id > 100) & (abs_id < 1_000_000) & ((abs_id // 10) % 10 != 0)
    return mask


def _is_b_hadron(abs_id: Array) -> Array:
    meson = ((abs_id // 100) % 10 == 5) & ((abs_id // 10) % 10 != 5)  # not bottomonium
    baryon = (abs_id // 1000) % 10 == 5
    mask: Array = _is_hadron(abs_id) & (meson | baryon)
    return mask


def _from_hadron_decay(abs_id: Array, status: Array, mother: Array) -> Array:
    """Whether a hadron decay lies up the mother chain of each particle (flat, global indices)."""
    flag = (np.abs(status) >= 91) & (np.abs(status) <= 99) & _is_hadron(abs_id[mother])
    # Mothers precede daughters, so the flag reaches every descendant in chain-depth steps.
    for _ in range(1000):
        spread = flag | flag[mother]
        if np.array_equal(spread, flag):
            break
        flag = spread
    result: Array = flag
    return result


def _offsets(mask: Array, event: Array, n_events: int) -> Array:
    counts = np.bincount(event[mask], minlength=n_events)
    offsets: Array = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return offsets


def final_state_from_record(
    record: ak.Array, charge_of: Any, invisible: Sequence[int] = INVISIBLE_PDGIDS
) -> FinalState:
    """Build the :class:`FinalState` of a ``nextBatch`` record (Awkward, one entry per event).

    ``charge_of(pdgid) -> float`` gives a particle's charge [e] (Pythia's particle data).
    """
    particles = record["prt"]
    counts = ak.to_numpy(ak.num(particles, axis=1)).astype(np.int64)
    n_events = len(counts)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    event = np.repeat(np.arange(n_events, dtype=np.int64), counts)

    def flat(column: ak.Array) -> Array:
        values: Array = ak.to_numpy(ak.flatten(column, axis=1))
        return values

    pid = flat(particles["id"]).astype(np.int32)
    abs_id = np.abs(pid).astype(np.int64)
    status = flat(particles["status"])
    mother = flat(particles["mother1"]).astype(np.int64) + start[event]
    momentum = particles["p"]
    px, py, pz, e = (flat(momentum[name]) for name in ("px", "py", "pz", "e"))

    final = status > 0
    unseen = final & np.isin(abs_id, np.asarray(invisible, dtype=np.int64))
    visible = final & ~unseen
    is_b = _is_b_hadron(abs_id)
    has_b_daughter = np.zeros(len(pid), dtype=bool)
    has_b_daughter[mother[is_b & is_b[mother]]] = True
    weak_b = is_b & ~has_b_daughter

    ids, inverse = np.unique(pid[visible], return_inverse=True)
    charges = np.asarray([charge_of(int(i)) for i in ids], dtype=np.float32)
    keep = np.flatnonzero(visible)
    b_index = np.flatnonzero(weak_b)
    return FinalState(
        offsets=_offsets(visible, event, n_events),
        pdgid=pid[keep],
        px=px[keep],
        py=py[keep],
        pz=pz[keep],
        e=e[keep],
        charge=charges[inverse.reshape(-1)],
        prompt=~_from_hadron_decay(abs_id, status, mother)[keep],
        b_hadrons=np.stack([px[b_index], py[b_index], pz[b_index], e[b_index]], axis=1),
        b_offsets=_offsets(weak_b, event, n_events),
        invisible_px=np.bincount(event[unseen], weights=px[unseen], minlength=n_events),
        invisible_py=np.bincount(event[unseen], weights=py[unseen], minlength=n_events),
    )


def _configure(
    settings: Sequence[str],
    *,
    seed: int,
    ecm_gev: float,
    lhe_file: str | None,
    skip_events: int,
    where: str,
) -> Any:
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    beams = [f"Beams:eCM = {ecm_gev}"]
    if lhe_file is not None:
        if not Path(lhe_file).is_file():
            raise DataError("LHE file", where, f"{lhe_file} does not exist", "check the path")
        beams = [
            "Beams:frameType = 4",
            f"Beams:LHEF = {lhe_file}",
            f"Beams:nSkipLHEFatInit = {skip_events}",
        ]
    lines = (
        *beams,
        "Random:setSeed = on",
        f"Random:seed = {seed}",
        "Next:numberCount = 0",
        "Print:quiet = on",
        *settings,
    )
    for line in lines:
        if not pythia.readString(line):
            raise ConfigError(
                f"Pythia setting '{line}'", where, "Pythia does not know it", "fix the setting"
            )
    if not pythia.init():
        raise ConfigError(
            "Pythia initialisation",
            where,
            "Pythia refused the settings (or could not read the LHE file)",
            "rerun with --debug and check the settings and the file",
        )
    return pythia


def run_pythia(
    settings: Sequence[str],
    n_events: int,
    *,
    seed: int,
    ecm_gev: float = 13_000.0,
    invisible: Sequence[int] = INVISIBLE_PDGIDS,
    lhe_file: str | None = None,
    skip_events: int = 0,
    where: str = "the search sample",
) -> GeneratedShard:
    """Generate ``n_events`` events of ``settings`` with Pythia seed ``seed`` (see pythia_seed).

    With ``lhe_file`` the hard events are read from that Les Houches file, skipping its first
    ``skip_events`` (the shards of a sample read consecutive ranges); ``ecm_gev`` is then the
    file's.  Raises DataError when the file holds fewer events than asked for.
    """
    pythia = _configure(
        settings,
        seed=seed,
        ecm_gev=ecm_gev,
        lhe_file=lhe_file,
        skip_events=skip_events,
        where=where,
    )
    data = pythia.particleData
    parts: list[FinalState] = []
    weights: list[Array] = []
    done = 0
    while done < n_events:
        size = min(_BATCH, n_events - done)
        # An LHE file ends: a failed event there is the end, not a retry (errorMode none).
        record = pythia.nextBatch(size, "none" if lhe_file is not None else "skip")
        if lhe_file is not None:
            record = record[~ak.is_none(record, axis=0)]
            if len(record) < size and pythia.infoPython().atEndOfFile():
                raise DataError(
                    "LHE file",
                    where,
                    f"it ends after {skip_events + done + len(record)} events, "
                    f"fewer than the {skip_events + n_events} asked for",
                    "ask for fewer events or use a longer file",
                )
        parts.append(final_state_from_record(record, data.charge, invisible))
        weights.append(ak.to_numpy(ak.firsts(record["info"]["weights"], axis=1)))
        done += len(record)
    sigma_pb = float(pythia.infoPython().sigmaGen()) * _PB_PER_MB
    return GeneratedShard(
        final_state=FinalState.concatenate(parts),
        generator_weight=np.asarray(np.concatenate(weights), dtype=np.float64),
        sigma_pb=sigma_pb,
    )


def truth_dilepton_mass(final_state: FinalState) -> Array:
    """Mass of the two highest-p_T prompt electrons/muons of each event [GeV]; 0 if fewer."""
    fs = final_state
    n = fs.n_events
    lepton = np.flatnonzero(fs.prompt & np.isin(np.abs(fs.pdgid), (11, 13)))
    event = fs.event_index[lepton]
    pt = np.hypot(fs.px[lepton], fs.py[lepton])
    order = np.lexsort((-pt, event))
    lepton, event = lepton[order], event[order]
    rank = np.arange(len(lepton)) - np.searchsorted(event, event)
    mass = np.zeros(n)
    total = np.zeros((n, 4))
    first_two = rank < 2
    for k, name in enumerate(("px", "py", "pz", "e")):
        total[:, k] = np.bincount(
            event[first_two], weights=getattr(fs, name)[lepton[first_two]], minlength=n
        )
    pairs = np.bincount(event[first_two], minlength=n) == 2
    m2 = total[:, 3] ** 2 - np.sum(total[:, :3] ** 2, axis=1)
    mass[pairs] = np.sqrt(np.maximum(m2[pairs], 0.0))
    return mass
