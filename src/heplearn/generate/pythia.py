"""Pythia 8 (``pythia8mc``) processes for the calibration samples and the pileup pool.

The hard processes (Z→ee, H→γγ, Z→μμγ) switch off multi-parton interactions
and hadronisation — pileup is overlaid from the minimum-bias pool instead — and
keep QED radiation, so final-state photons accompany the leptons.  Minimum
bias (``SoftQCD:nonDiffractive``) keeps everything.  Each call is seeded, so a
shard's events depend only on (seed, shard).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from heplearn.errors import ConfigError

__all__ = ["PROCESSES", "GeneratedEvents", "generate_events"]

Array = np.ndarray[Any, Any]

# Real photons do not split into pairs in vacuum (that is the detector's conversion), so the
# shower's γ → ff̄ branching is off; otherwise a third of H→γγ photons vanish into pairs.
_HARD_ONLY = (
    "PartonLevel:MPI = off",
    "HadronLevel:all = off",
    "TimeShower:QEDshowerByGamma = off",
)

PROCESSES: dict[str, tuple[str, ...]] = {
    "zee": (
        "WeakSingleBoson:ffbar2gmZ = on",
        "WeakZ0:gmZmode = 2",
        "23:onMode = off",
        "23:onIfAny = 11",
        "PhaseSpace:mHatMin = 60.",
        "PhaseSpace:mHatMax = 120.",
        *_HARD_ONLY,
    ),
    "hgg": ("HiggsSM:gg2H = on", "25:onMode = off", "25:onIfMatch = 22 22", *_HARD_ONLY),
    "zmumugamma": (
        "WeakSingleBoson:ffbar2gmZ = on",
        "WeakZ0:gmZmode = 2",
        "23:onMode = off",
        "23:onIfAny = 13",
        "PhaseSpace:mHatMin = 40.",
        *_HARD_ONLY,
    ),
    "minbias": ("SoftQCD:nonDiffractive = on",),
}

#: Final-state particles kept from the hard processes: leptons and photons.
_HARD_KEEP = {11, 13, 22}


@dataclass(frozen=True)
class GeneratedEvents:
    """Final-state particles of ``n`` events, flat, and the generated cross section [mb]."""

    pdgid: Array
    energy: Array
    eta: Array
    phi: Array
    event: Array
    sigma_mb: float
    n_events: int
    resonance_mass: Array  # per event: mass of the Z or H [GeV]; 0 where there is none


def _pythia_seed(seed: int, stream: int) -> int:
    # Pythia accepts seeds up to 900 000 000; stream 0, 1, … are the shards, the pool is apart.
    state = np.random.SeedSequence([seed, stream, 8]).generate_state(1)[0]
    return int(state % 900_000_000) + 1


def generate_events(
    process: str,
    n_events: int,
    seed: int,
    stream: int,
    *,
    ecm_gev: float = 13_600.0,
    eta_max: float = 5.0,
) -> GeneratedEvents:
    """Run Pythia for ``n_events`` of ``process``; collect final particles with |η| < eta_max."""
    if process not in PROCESSES:
        raise ConfigError(
            f"process '{process}'",
            "the generator settings",
            f"the known processes are {', '.join(sorted(PROCESSES))}",
            "choose one of them",
        )
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    for setting in (
        f"Beams:eCM = {ecm_gev}",
        "Random:setSeed = on",
        f"Random:seed = {_pythia_seed(seed, stream)}",
        "Next:numberCount = 0",
        "Print:quiet = on",
        *PROCESSES[process],
    ):
        pythia.readString(setting)
    if not pythia.init():
        raise ConfigError(
            f"process '{process}'",
            "Pythia initialisation",
            "Pythia refused the settings",
            "rerun with --debug to see Pythia's log",
        )
    keep_all = process == "minbias"
    columns: dict[str, list[float]] = {"pdgid": [], "energy": [], "eta": [], "phi": [], "event": []}
    masses = np.zeros(n_events)
    accepted = 0
    while accepted < n_events:
        if not pythia.next():
            continue
        event = pythia.event
        for index in range(event.size()):
            particle = event[index]
            if particle.idAbs() in (23, 25):
                masses[accepted] = particle.m()  # the last copy (after recoils) wins
            if not particle.isFinal():
                continue
            pid = particle.id()
            if not keep_all and abs(pid) not in _HARD_KEEP:
                continue
            if particle.pT() < 0.1 or abs(particle.eta()) > eta_max:
                continue
            columns["pdgid"].append(pid)
            columns["energy"].append(particle.e())
            columns["eta"].append(particle.eta())
            columns["phi"].append(particle.phi())
            columns["event"].append(accepted)
        accepted += 1
    sigma = float(pythia.infoPython().sigmaGen())
    return GeneratedEvents(
        pdgid=np.asarray(columns["pdgid"], dtype=np.int32),
        energy=np.asarray(columns["energy"]),
        eta=np.asarray(columns["eta"]),
        phi=np.asarray(columns["phi"]),
        event=np.asarray(columns["event"], dtype=np.int64),
        sigma_mb=sigma,
        n_events=n_events,
        resonance_mass=masses,
    )
