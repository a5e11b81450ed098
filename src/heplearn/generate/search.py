"""Search samples: Pythia signals and backgrounds, reconstructed, weighted to a luminosity.

One row per generated event (no preselection).  The shard index space spans
the samples: sample 0 has shards 0…k₀−1, sample 1 the next ones, and so on;
a shard holds events of one sample only and is seeded by (seed, sample name,
shard of the sample), so adding a sample leaves the others' events unchanged.

Store fields (GeV, radians, pb, fb⁻¹):

- ``event/weight`` float64: events expected at ``luminosity_fb``,
  σ·L/N_sample · w_gen/⟨w_gen⟩_shard (Σ over a sample = σ·L; the shard's σ is Pythia's
  estimate after that shard, so the sum is the N-weighted mean of the shard estimates);
- ``event/generator_weight`` float64 (1 for Pythia processes; the LHE weight otherwise);
- ``event/sample`` int16 (index into the config's ``samples``), ``event/is_signal`` int8,
  ``event/mediator_mass``, ``event/invisible_mass`` float32 (0 for backgrounds),
  ``event/id`` int64 (unique over the store), ``event/cross_section`` float64 [pb] (σ used),
  ``event/sample_events`` int64 (N_sample);
- ``truth/mll`` float32: mass of the two leading prompt e/μ (0 with fewer than two);
- the reconstruction columns of :func:`heplearn.detector.objects.event_reconstruction.reconstruct`
  (``leptons/*``, ``jets/*``, ``met/*``, ``truth/met``).

The sample names, in order, with N and the configured σ, are in the store's resolved
config (``config.yaml``, provenance ``config``); :func:`sample_table` reads them back.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from heplearn.config import parse_config, register_config, setting
from heplearn.data.schema import Column
from heplearn.detector.objects.event_reconstruction import ReconstructionSettings, reconstruct
from heplearn.errors import ConfigError, DataError
from heplearn.generate.runner import RunOptions, run_sharded
from heplearn.generate.search_processes import (
    INVISIBLE_PDGIDS,
    check_process,
    default_sample_name,
    process_settings,
)
from heplearn.generate.search_pythia import pythia_seed, run_pythia, truth_dilepton_mass

if TYPE_CHECKING:
    from typing import Unpack  # Python >= 3.11; only the annotations need it

__all__ = [
    "SearchSample",
    "SearchSampleConfig",
    "ShardPlan",
    "sample_table",
    "scale_events",
    "search_dataset",
    "shard_plan",
    "simulate_search_shard",
]

Array = np.ndarray[Any, Any]

_PB_PER_FB = 1000.0  # 1 fb⁻¹ = 1000 pb⁻¹
#: Processes Pythia's 2→2 p̂T bias does not act on (2→1 Drell–Yan, LHE input).
_TWO_TO_ONE = frozenset({"dy_ee", "dy_mumu", "lhe"})


@dataclass(frozen=True)
class SearchSample:
    """One sample: a catalogue process (or an LHE file), its size and its signal masses [GeV].

    For ``zp_dm`` the invisible state is the dark scalar radiated by the Z′ (its mass
    ``invisible_mass`` sets the E_T^miss spectrum; it decays to a DM pair of a quarter of
    its mass, which does not change the kinematics).  For ``zh_inv`` ``mediator_mass`` is
    the Higgs mass and ``invisible_mass`` that of the DM particle it decays to.
    """

    process: str
    events: int = setting(1000, low=1, high=100_000_000)
    name: str = setting("", doc="sample name; empty → zp_dm_m{M}_mx{m}, zh_inv_m{M} or process")
    mediator_mass: float = setting(0.0, low=0.0, high=50_000.0, doc="Z′ or H mass [GeV]")
    invisible_mass: float = setting(0.0, low=0.0, high=50_000.0, doc="invisible state [GeV]")
    mhat_min: float | None = setting(None, low=0.0, doc="generator cut on m̂ [GeV]")
    lhe_file: str | None = setting(None, doc="Les Houches file (process: lhe)")
    signal: bool | None = setting(None, doc="signal or background; default: the catalogue's")
    cross_section_pb: float | None = setting(None, low=0.0, doc="σ [pb] instead of Pythia's")
    bias_pt_power: float = setting(
        0.0,
        low=0.0,
        high=6.0,
        doc="oversample high-p̂T events ∝ (p̂T/bias_pt_ref)^power, weights compensate; 0 = off",
    )
    bias_pt_ref: float = setting(100.0, low=1.0, high=10_000.0, doc="p̂T of unit bias [GeV]")

    @property
    def label(self) -> str:
        """The sample's name (given, or the contract's default)."""
        return self.name or default_sample_name(
            self.process, self.mediator_mass, self.invisible_mass
        )

    @property
    def is_signal(self) -> bool:
        return self.signal if self.signal is not None else check_process(self.process, "").is_signal

    def validate(self, where: str) -> None:
        entry = check_process(self.process, where)
        if self.process == "lhe" and (self.lhe_file is None or not self.name):
            raise ConfigError(
                "sample of process 'lhe'",
                where,
                "it needs a file and a name",
                "set 'lhe_file' and 'name'",
            )
        if self.process != "lhe" and self.lhe_file is not None:
            raise ConfigError(
                f"field 'lhe_file' of a '{self.process}' sample",
                where,
                "only 'lhe' samples read a file",
                "set 'process: lhe' or remove 'lhe_file'",
            )
        if self.bias_pt_power > 0 and self.process in _TWO_TO_ONE:
            raise ConfigError(
                f"field 'bias_pt_power' of a '{self.process}' sample",
                where,
                "the p̂T bias acts on 2→2 processes and this one is 2→1",
                "remove bias_pt_power (use mhat_min slices instead)",
            )
        # H → χχ̄ must be open; the Z′'s scalar may be as heavy as wanted (ŝ ≥ (M + m)²).
        limit = 2 * self.invisible_mass if self.process == "zh_inv" else 0.0
        if entry.needs_mediator and not (self.mediator_mass > limit and self.invisible_mass > 0):
            raise ConfigError(
                f"masses of sample '{self.label}'",
                where,
                f"got mediator_mass {self.mediator_mass:g} and invisible_mass "
                f"{self.invisible_mass:g} GeV; both must be > 0"
                + (" and the H mass > 2·m_χ" if limit else ""),
                "set both masses (GeV)",
            )

    def pythia_settings(self, where: str) -> tuple[str, ...]:
        # Pythia's 2→2 p̂T bias populates the tails a search selects; the event weights
        # carry 1/bias, so yields stay those of the unbiased sample.
        bias = (
            (
                "PhaseSpace:bias2Selection = on",
                f"PhaseSpace:bias2SelectionPow = {self.bias_pt_power}",
                f"PhaseSpace:bias2SelectionRef = {self.bias_pt_ref}",
            )
            if self.bias_pt_power > 0
            else ()
        )
        settings = process_settings(
            self.process,
            mediator_mass=self.mediator_mass,
            invisible_mass=self.invisible_mass,
            mhat_min=self.mhat_min,
            where=where,
        )
        return (*settings, *bias)


@register_config("search-sample")
@dataclass(frozen=True)
class SearchSampleConfig:
    """Signal and background samples of a search, their luminosity and the reconstruction."""

    samples: list[SearchSample] = setting([])
    luminosity_fb: float = setting(139.0, low=0.0, doc="integrated luminosity [fb⁻¹]")
    seed: int = setting(1, low=0, high=2**32 - 1)
    shard_events: int = setting(2000, low=1, high=1_000_000)
    ecm_gev: float = setting(13_000.0, low=100.0, high=100_000.0, doc="√s [GeV]")
    invisible_pdgids: list[int] = setting([], doc="more invisible particle ids (|pdgid|)")
    reconstruction: ReconstructionSettings = setting(ReconstructionSettings())

    def validate(self, where: str) -> None:
        if not self.samples:
            raise ConfigError("field 'samples'", where, "it is empty", "list at least one sample")
        names = [sample.label for sample in self.samples]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ConfigError(
                f"sample names {twice}",
                where,
                "each sample needs its own name",
                "give the repeated samples distinct 'name's",
            )

    @property
    def n_shards(self) -> int:
        return len(shard_plan(self))

    @property
    def events(self) -> int:
        return sum(sample.events for sample in self.samples)


@dataclass(frozen=True)
class ShardPlan:
    """Which events a shard generates: ``n`` events of sample ``sample`` from event ``first``."""

    sample: int
    shard_in_sample: int
    first: int
    n: int
    first_id: int  # event/id of the shard's first event


def shard_plan(config: SearchSampleConfig) -> list[ShardPlan]:
    """The shards of every sample, in sample order."""
    plan: list[ShardPlan] = []
    first_id = 0
    for index, sample in enumerate(config.samples):
        for k, first in enumerate(range(0, sample.events, config.shard_events)):
            n = min(config.shard_events, sample.events - first)
            plan.append(ShardPlan(index, k, first, n, first_id + first))
        first_id += sample.events
    return plan


def scale_events(config: SearchSampleConfig, total: int) -> SearchSampleConfig:
    """The config with ``total`` events shared by the samples in their configured proportions."""
    share = total / config.events
    samples = [replace(s, events=max(1, round(s.events * share))) for s in config.samples]
    return replace(config, samples=samples)


def _stream(config: SearchSampleConfig, name: str, shard: int) -> np.random.Generator:
    key = zlib.crc32(name.encode())
    return np.random.default_rng(np.random.SeedSequence([config.seed, key, shard, 11]))


def simulate_search_shard(config: SearchSampleConfig, shard: int) -> dict[str, Column]:
    """The store columns of shard ``shard`` (deterministic in ``config.seed`` and the plan)."""
    plan = shard_plan(config)[shard]
    sample = config.samples[plan.sample]
    where = f"sample '{sample.label}'"
    generated = run_pythia(
        sample.pythia_settings(where),
        plan.n,
        seed=pythia_seed(config.seed, sample.label, plan.shard_in_sample),
        ecm_gev=config.ecm_gev,
        invisible=(*INVISIBLE_PDGIDS, *config.invisible_pdgids),
        lhe_file=sample.lhe_file,
        skip_events=plan.first,
        where=where,
    )
    w_gen = generated.generator_weight
    mean_weight = float(np.mean(w_gen))
    if not mean_weight > 0:
        raise DataError(
            "generator weights",
            where,
            f"their mean over events {plan.first}–{plan.first + plan.n} is {mean_weight:g}",
            "use larger shards (shard_events) or a file with positive mean weight",
        )
    sigma_pb = (
        sample.cross_section_pb if sample.cross_section_pb is not None else generated.sigma_pb
    )
    weight = sigma_pb * config.luminosity_fb * _PB_PER_FB / sample.events * w_gen / mean_weight
    n = plan.n
    signal = sample.is_signal
    columns: dict[str, Column] = {
        "event/id": np.arange(plan.first_id, plan.first_id + n, dtype=np.int64),
        "event/weight": weight.astype(np.float64),
        "event/generator_weight": w_gen.astype(np.float64),
        "event/sample": np.full(n, plan.sample, dtype=np.int16),
        "event/is_signal": np.full(n, int(signal), dtype=np.int8),
        "event/mediator_mass": np.full(n, sample.mediator_mass if signal else 0.0, np.float32),
        "event/invisible_mass": np.full(n, sample.invisible_mass if signal else 0.0, np.float32),
        "event/cross_section": np.full(n, sigma_pb, dtype=np.float64),
        "event/sample_events": np.full(n, sample.events, dtype=np.int64),
        "truth/mll": truth_dilepton_mass(generated.final_state).astype(np.float32),
    }
    rng = _stream(config, sample.label, plan.shard_in_sample)
    columns.update(reconstruct(generated.final_state, rng, settings=config.reconstruction))
    return columns


def _check_files(config: SearchSampleConfig, where: str) -> None:
    for sample in config.samples:
        if sample.lhe_file is not None and not Path(sample.lhe_file).is_file():
            raise DataError(
                f"LHE file of sample '{sample.label}'",
                where,
                f"{sample.lhe_file} does not exist",
                "check 'lhe_file'",
            )


def search_dataset(
    config: SearchSampleConfig,
    out: str | Path,
    *,
    where: str = "the search-sample config",
    **options: Unpack[RunOptions],
) -> Path:
    """Generate every sample of ``config`` into the sharded store ``out`` (resumable).

    ``options`` (workers, dask, overwrite, progress) go to
    :func:`~heplearn.generate.runner.run_sharded`.
    """
    _check_files(config, where)  # before the output is touched
    return run_sharded(
        config,
        simulate_search_shard,
        out,
        n_shards=config.n_shards,
        **options,
        label="search samples",
        metadata={"samples": [sample.label for sample in config.samples]},
    )


def sample_table(resolved_config: str) -> list[dict[str, Any]]:
    """The samples of a store from its resolved config text (``config.yaml`` / provenance).

    One dict per sample, in ``event/sample`` order: name, process, is_signal, events,
    mediator_mass, invisible_mass, cross_section_pb (None: Pythia's, see the columns).
    """
    data = yaml.safe_load(resolved_config) or {}
    config = parse_config(SearchSampleConfig, data, "the store's config")
    return [
        {
            "name": s.label,
            "process": s.process,
            "is_signal": s.is_signal,
            "events": s.events,
            "mediator_mass": s.mediator_mass,
            "invisible_mass": s.invisible_mass,
            "cross_section_pb": s.cross_section_pb,
        }
        for s in config.samples
    ]
