"""The process catalogue of the dilepton + missing-energy search: Pythia 8 settings per process.

Every sample is generated the same way, so a classifier cannot learn the
generator switches instead of the physics: multi-parton interactions are off
(no underlying event and no pileup in this sample), initial/final-state QCD and
QED showers and hadronisation are on (jets from initial-state radiation, b
hadrons in tt̄), particles with cτ > 10 mm are stable (the usual
generator-level definition of a final state), and events are unweighted.

Cross sections include the branching ratios of the decays that are switched
on (Pythia's ``sigmaGen`` multiplies by the open fraction of every resonance),
so ``σ·L/N`` weights need no further factor:

- ``dy_ee``/``dy_mumu``: γ*/Z → ee/μμ with m̂ > ``mhat_min`` (default 100 GeV, so that the
  m_ℓℓ > 120 GeV signal region of the thesis is populated; σ is that of the cut phase space);
- ``ttbar``: both W → eν/μν/τν (dilepton tt̄);
- ``ww``: both W → eν/μν/τν;  ``wz``: W → eν/μν/τν and Z → ee/μμ/ττ;
- ``zz``: both Z → ee/μμ/ττ/νν (ℓℓνν, ℓℓℓℓ; 4ν events stay in the sample, carrying weight);
- ``zp_dm``: Z′ → ee/μμ radiating a dark scalar s that decays invisibly into a DM pair
  (``DM:ffbar2ZpH``, with Pythia's 25 as s; Z′ mass ``mediator_mass``, s mass
  ``invisible_mass`` — the mass of the invisible system, which shapes E_T^miss —, χ mass
  m_s/4; BR(s → χχ̄) = 1; the Z′ line shape is cut to M ± 5 %, σ is that of the window);
- ``zh_inv``: ZH with Z → ee/μμ and H → χχ̄ (BR = 1; H mass ``mediator_mass``, χ mass
  ``invisible_mass``, default 1 GeV);
- ``lhe``: events from the user's Les Houches file, showered and hadronised by Pythia.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from heplearn.errors import ConfigError

__all__ = [
    "COMMON_SETTINGS",
    "INVISIBLE_PDGIDS",
    "PROCESSES",
    "SearchProcess",
    "check_process",
    "default_sample_name",
    "process_settings",
]

#: Final-state particles that leave the detector unseen: neutrinos, the 4th-generation ν,
#: Pythia's DM candidates 51–53 and the lightest neutralino and gravitino.
INVISIBLE_PDGIDS: tuple[int, ...] = (12, 14, 16, 18, 51, 52, 53, 1000022, 1000039)

#: Switches shared by every sample (see the module docstring for why).
COMMON_SETTINGS: tuple[str, ...] = (
    "PartonLevel:MPI = off",
    "ParticleDecays:limitTau0 = on",
    "ParticleDecays:tau0Max = 10.",
    # Where the sampled maximum of dσ is exceeded (≈3 % of Z′ events), raise it instead of
    # giving the event a weight > 1: unit weights, at a tiny bias of the first events.
    "PhaseSpace:increaseMaximum = on",
)

_W_LEPTONIC = ("24:onMode = off", "24:onIfAny = 11 13 15")
_DM_SCALAR = "25:oneChannel = 1 1.0 100 52 -52"  # H/s → χχ̄ only: BR = 1, σ not diluted


@dataclass(frozen=True)
class SearchProcess:
    """One catalogue entry: its role and how to build its Pythia settings.

    ``settings(mediator_mass, invisible_mass, mhat_min)`` gives the process lines (GeV).
    """

    key: str
    is_signal: bool
    needs_mediator: bool
    settings: Callable[[float, float, float | None], tuple[str, ...]]
    default_mhat_min: float | None = None


def _drell_yan(lepton: int) -> Callable[[float, float, float | None], tuple[str, ...]]:
    def build(_mediator: float, _invisible: float, mhat_min: float | None) -> tuple[str, ...]:
        return (
            "WeakSingleBoson:ffbar2gmZ = on",
            "23:onMode = off",
            f"23:onIfAny = {lepton}",
            f"PhaseSpace:mHatMin = {mhat_min if mhat_min is not None else 100.0}",
        )

    return build


def _fixed(*lines: str) -> Callable[[float, float, float | None], tuple[str, ...]]:
    def build(_mediator: float, _invisible: float, mhat_min: float | None) -> tuple[str, ...]:
        cut = () if mhat_min is None else (f"PhaseSpace:mHatMin = {mhat_min}",)
        return (*lines, *cut)

    return build


def _zp_dm(mediator: float, invisible: float, _mhat_min: float | None) -> tuple[str, ...]:
    return (
        "DM:ffbar2ZpH = on",
        f"55:m0 = {mediator}",
        # Line shape within M ± 5 % (≈ ±15 Γ, MadGraph's bwcutoff): without it the off-shell
        # Z′ below an on-shell Z′* → Z′s dominates at high M and m_ℓℓ no longer peaks at M.
        f"55:mMin = {0.95 * mediator}",
        f"55:mMax = {1.05 * mediator}",
        "55:onMode = off",
        "55:onIfAny = 11 13",
        f"25:m0 = {invisible}",  # the dark scalar: the invisible system of the event
        _DM_SCALAR,
        f"52:m0 = {invisible / 4}",  # χ mass: any value below m_s/2 gives the same kinematics
    )


def _zh_inv(mediator: float, invisible: float, _mhat_min: float | None) -> tuple[str, ...]:
    return (
        "HiggsSM:ffbar2HZ = on",
        "23:onMode = off",
        "23:onIfAny = 11 13",
        f"25:m0 = {mediator}",
        _DM_SCALAR,
        f"52:m0 = {invisible}",
    )


PROCESSES: dict[str, SearchProcess] = {
    "dy_ee": SearchProcess("dy_ee", False, False, _drell_yan(11), 100.0),
    "dy_mumu": SearchProcess("dy_mumu", False, False, _drell_yan(13), 100.0),
    "ttbar": SearchProcess(
        "ttbar", False, False, _fixed("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", *_W_LEPTONIC)
    ),
    "ww": SearchProcess("ww", False, False, _fixed("WeakDoubleBoson:ffbar2WW = on", *_W_LEPTONIC)),
    "wz": SearchProcess(
        "wz",
        False,
        False,
        _fixed(
            "WeakDoubleBoson:ffbar2ZW = on",
            *_W_LEPTONIC,
            "23:onMode = off",
            "23:onIfAny = 11 13 15",
        ),
    ),
    "zz": SearchProcess(
        "zz",
        False,
        False,
        _fixed(
            "WeakDoubleBoson:ffbar2gmZgmZ = on",
            "WeakZ0:gmZmode = 2",  # pure Z: no γ* pole at low mass
            "23:onMode = off",
            "23:onIfAny = 11 13 15 12 14 16",
        ),
    ),
    "zp_dm": SearchProcess("zp_dm", True, True, _zp_dm),
    "zh_inv": SearchProcess("zh_inv", True, True, _zh_inv),
    "lhe": SearchProcess("lhe", False, False, _fixed()),
}


def _unknown(process: str, where: str) -> ConfigError:
    return ConfigError(
        f"process '{process}'",
        where,
        f"the known processes are {', '.join(PROCESSES)}",
        "choose one of them",
    )


def process_settings(
    process: str,
    *,
    mediator_mass: float = 0.0,
    invisible_mass: float = 0.0,
    mhat_min: float | None = None,
    where: str = "the search sample",
) -> tuple[str, ...]:
    """The Pythia settings of ``process`` (catalogue lines, then the common switches)."""
    if process not in PROCESSES:
        raise _unknown(process, where)
    entry = PROCESSES[process]
    if entry.needs_mediator and mediator_mass <= 0.0:
        raise ConfigError(
            f"process '{process}'",
            where,
            "a signal process needs its mediator mass",
            "set 'mediator_mass' (GeV) for this sample",
        )
    return (*entry.settings(mediator_mass, invisible_mass, mhat_min), *COMMON_SETTINGS)


def default_sample_name(process: str, mediator_mass: float, invisible_mass: float) -> str:
    """The contract's sample name: the process key, or ``zp_dm_m{M}_mx{m}`` / ``zh_inv_m{M}``."""
    if process == "zp_dm":
        return f"zp_dm_m{mediator_mass:g}_mx{invisible_mass:g}"
    if process == "zh_inv":
        return f"zh_inv_m{mediator_mass:g}"
    return process


def check_process(process: str, where: str) -> SearchProcess:
    """The catalogue entry of ``process``, or a ConfigError naming the valid ones."""
    if process not in PROCESSES:
        raise _unknown(process, where)
    return PROCESSES[process]
