"""Search samples: signal/background topology, b hadrons, weights, seeding, LHE input, config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from heplearn.cli.generate import search_command
from heplearn.config import load_config, parse_config
from heplearn.data.reader import open_store
from heplearn.errors import ConfigError, DataError
from heplearn.generate.search import (
    SearchSample,
    SearchSampleConfig,
    sample_table,
    scale_events,
    search_dataset,
    shard_plan,
)
from heplearn.generate.search_processes import process_settings
from heplearn.generate.search_pythia import GeneratedShard, run_pythia, truth_dilepton_mass

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "search"


def generate(
    process: str, n: int, *, seed: int = 1, mediator: float = 0.0, invisible: float = 0.0
) -> GeneratedShard:
    settings = process_settings(process, mediator_mass=mediator, invisible_mass=invisible)
    return run_pythia(settings, n, seed=seed)


@pytest.fixture(scope="module")
def ttbar() -> GeneratedShard:
    return generate("ttbar", 120, seed=4)


def boost_z(p: np.ndarray, energy: float, beta: float) -> np.ndarray:
    """(px, py, pz, E) of a massless momentum ``p`` (energy ``energy``) boosted by β along z."""
    gamma = 1 / np.sqrt(1 - beta**2)
    return np.array([p[0], p[1], gamma * (p[2] + beta * energy), gamma * (energy + beta * p[2])])


def write_lhe(path: Path, n: int, xsec_pb: float = 1234.0, seed: int = 0) -> None:
    """A Les Houches file of u ū → Z → e⁺e⁻ at 13 TeV (unit weights, IDWTUP = 3)."""
    rng = np.random.default_rng(seed)
    beam = 6500.0
    lines = [
        '<LesHouchesEvents version="1.0">',
        "<init>",
        f"2212 2212 {beam} {beam} 0 0 10042 10042 3 1",
        f"{xsec_pb:.6e} {xsec_pb * 0.01:.6e} 1.0 1",
        "</init>",
    ]
    for _ in range(n):
        mass = float(np.clip(91.19 + 1.25 * np.tan(np.pi * (rng.uniform() - 0.5)), 70.0, 110.0))
        rapidity = rng.uniform(-2.0, 2.0)
        e1, e2 = mass / 2 * np.exp(rapidity), mass / 2 * np.exp(-rapidity)
        cos, phi = rng.uniform(-1.0, 1.0), rng.uniform(0.0, 2 * np.pi)
        half = mass / 2
        rest = half * np.array(
            [np.sqrt(1 - cos**2) * np.cos(phi), np.sqrt(1 - cos**2) * np.sin(phi), cos]
        )
        beta = (e1 - e2) / (e1 + e2)
        lep, anti = boost_z(rest, half, beta), boost_z(-rest, half, beta)
        z = np.add(lep, anti)
        lines += [
            "<event>",
            f"5 1 1.0 {mass:.4f} 0.0078 0.118",
            f"2 -1 0 0 501 0 0 0 {e1:.6e} {e1:.6e} 0 0 9",
            f"-2 -1 0 0 0 501 0 0 {-e2:.6e} {e2:.6e} 0 0 9",
            f"23 2 1 2 0 0 {z[0]:.6e} {z[1]:.6e} {z[2]:.6e} {z[3]:.6e} {mass:.6e} 0 9",
            f"11 1 3 3 0 0 {lep[0]:.6e} {lep[1]:.6e} {lep[2]:.6e} {lep[3]:.6e} 0 0 9",
            f"-11 1 3 3 0 0 {anti[0]:.6e} {anti[1]:.6e} {anti[2]:.6e} {anti[3]:.6e} 0 0 9",
            "</event>",
        ]
    path.write_text("\n".join([*lines, "</LesHouchesEvents>"]) + "\n")


@pytest.mark.parametrize("mediator", [200.0, 1000.0])
def test_zprime_signal_has_missing_energy_and_a_dilepton_peak_at_the_mediator(
    mediator: float,
) -> None:
    shard = generate("zp_dm", 100, mediator=mediator, invisible=10.0)
    fs = shard.final_state
    truth_met = np.hypot(fs.invisible_px, fs.invisible_py)
    assert np.mean(truth_met > 1.0) > 0.99
    mll = truth_dilepton_mass(fs)
    # The peak sits at M; radiation and the off-shell Z′ (favoured by the Z′* → Z′s phase
    # space) pull a tail below it, so a quarter of the events lie > 5 % low.
    counts, edges = np.histogram(mll / mediator, bins=np.linspace(0.5, 1.2, 36))
    assert edges[np.argmax(counts)] == pytest.approx(0.99, abs=0.011)
    assert np.median(mll) == pytest.approx(mediator, rel=0.05)
    assert np.mean(np.abs(mll / mediator - 1.0) < 0.05) > 0.5
    assert shard.sigma_pb > 0
    assert np.all(shard.generator_weight == 1.0)


def test_zh_invisible_has_a_z_and_missing_energy() -> None:
    fs = generate("zh_inv", 100, mediator=125.0, invisible=1.0).final_state
    assert np.mean(np.hypot(fs.invisible_px, fs.invisible_py) > 1.0) > 0.99
    mll = truth_dilepton_mass(fs)
    assert np.median(mll) == pytest.approx(91.19, abs=2.0)


def test_a_heavier_invisible_scalar_gives_more_missing_energy() -> None:
    light = generate("zp_dm", 100, mediator=500.0, invisible=10.0).final_state
    heavy = generate("zp_dm", 100, mediator=500.0, invisible=300.0).final_state
    met_light = np.hypot(light.invisible_px, light.invisible_py)
    met_heavy = np.hypot(heavy.invisible_px, heavy.invisible_py)
    assert np.mean(met_heavy) > 1.2 * np.mean(met_light)


def test_ttbar_has_b_hadrons_and_non_prompt_leptons(ttbar: GeneratedShard) -> None:
    fs = ttbar.final_state
    n_b = np.diff(fs.b_offsets)
    assert np.mean(n_b >= 2) > 0.95  # one b from each top
    b_pt = np.hypot(fs.b_hadrons[:, 0], fs.b_hadrons[:, 1])
    assert np.median(b_pt) > 20.0
    leptons = np.isin(np.abs(fs.pdgid), (11, 13))
    prompt_per_event = np.bincount(fs.event_index[leptons & fs.prompt], minlength=fs.n_events)
    # both W → ℓν (τ → ℓ 35 %): ≈ 1.57 prompt e/μ per event, never more than the W's give
    assert np.mean(prompt_per_event) == pytest.approx(1.57, abs=0.2)
    assert np.any(leptons & ~fs.prompt)  # semileptonic b/c decays
    assert np.mean(np.hypot(fs.invisible_px, fs.invisible_py) > 1.0) > 0.99


def test_drell_yan_is_generated_above_the_mass_cut() -> None:
    shard = generate("dy_mumu", 80)
    mll = truth_dilepton_mass(shard.final_state)
    assert np.mean(mll > 90.0) > 0.9  # m̂ > 100 GeV, smeared down by radiation
    assert np.mean(np.diff(shard.final_state.b_offsets) > 0) < 0.2


def test_same_seed_same_final_state_other_seed_other_events() -> None:
    first = generate("zh_inv", 20, seed=7, mediator=125.0, invisible=1.0)
    again = generate("zh_inv", 20, seed=7, mediator=125.0, invisible=1.0)
    other = generate("zh_inv", 20, seed=8, mediator=125.0, invisible=1.0)
    for name in ("offsets", "pdgid", "px", "e", "prompt", "b_hadrons", "invisible_px"):
        np.testing.assert_array_equal(
            getattr(first.final_state, name), getattr(again.final_state, name)
        )
    assert first.sigma_pb == again.sigma_pb
    assert not np.array_equal(first.final_state.invisible_px, other.final_state.invisible_px)


def test_store_weights_sum_to_cross_section_times_luminosity(tmp_path: Path) -> None:
    config = parse_config(
        SearchSampleConfig,
        {
            "luminosity_fb": 10.0,
            "shard_events": 25,
            "samples": [
                {"process": "zh_inv", "events": 50, "mediator_mass": 125.0, "invisible_mass": 1.0},
                {"process": "dy_ee", "events": 30},
            ],
        },
    )
    assert [(p.sample, p.n) for p in shard_plan(config)] == [(0, 25), (0, 25), (1, 25), (1, 5)]
    store = open_store(search_dataset(config, tmp_path / "store"))
    columns = store.read()
    assert store.rows == 80
    sample = columns["event/sample"]
    weight, sigma = columns["event/weight"], columns["event/cross_section"]
    np.testing.assert_array_equal(np.unique(columns["event/id"]), np.arange(80))
    for index, n in ((0, 50), (1, 30)):
        mine = sample == index
        assert np.all(sigma[mine] > 0)
        # Σ w = Σ_shards σ_shard · L · n_shard / N  (each shard's σ estimate weighs its events)
        assert weight[mine].sum() == pytest.approx(np.sum(sigma[mine]) * 10.0 * 1000.0 / n)
        assert np.all(columns["event/sample_events"][mine] == n)
    signal = columns["event/is_signal"] == 1
    np.testing.assert_array_equal(signal, sample == 0)
    assert np.all(columns["event/mediator_mass"][signal] == 125.0)
    assert np.all(columns["event/mediator_mass"][~signal] == 0.0)
    assert np.all(columns["truth/met"][signal] > 0)
    table = sample_table(store.provenance["config"])
    assert [row["name"] for row in table] == ["zh_inv_m125", "dy_ee"]


def test_lhe_file_is_showered_with_its_cross_section(tmp_path: Path) -> None:
    path = tmp_path / "zee.lhe"
    write_lhe(path, 40)
    settings = process_settings("lhe")
    head = run_pythia(settings, 15, seed=2, lhe_file=str(path))
    tail = run_pythia(settings, 15, seed=2, lhe_file=str(path), skip_events=20)
    assert head.sigma_pb == pytest.approx(1234.0)
    assert head.n_events == 15
    mll = truth_dilepton_mass(head.final_state)
    assert np.median(mll) == pytest.approx(91.0, abs=3.0)
    assert not np.allclose(mll, truth_dilepton_mass(tail.final_state))
    with pytest.raises(DataError, match="ends after 40 events"):
        run_pythia(settings, 30, seed=2, lhe_file=str(path), skip_events=20)


def test_unknown_process_names_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"process 'tt'.*dy_ee.*ttbar.*zp_dm"):
        parse_config(SearchSampleConfig, {"samples": [{"process": "tt", "events": 10}]})


def test_bad_samples_are_refused() -> None:
    with pytest.raises(ConfigError, match="masses"):
        parse_config(SearchSampleConfig, {"samples": [{"process": "zp_dm", "events": 10}]})
    twice = [{"process": "ww"}, {"process": "ww"}]
    with pytest.raises(ConfigError, match="distinct"):
        parse_config(SearchSampleConfig, {"samples": twice})
    with pytest.raises(ConfigError, match="lhe"):
        parse_config(SearchSampleConfig, {"samples": [{"process": "lhe", "name": "x"}]})


def test_shipped_configs_follow_the_contract() -> None:
    full = load_config(SearchSampleConfig, CONFIGS / "dilepton-met.yaml")
    names = [s.label for s in full.samples]
    assert {"dy_ee", "dy_mumu", "ttbar", "ww", "wz", "zz"} <= set(names)
    assert "zp_dm_m130_mx10" in names and "zp_dm_m1500_mx150" in names
    assert "zh_inv_m125" in names
    masses = {s.mediator_mass for s in full.samples if s.is_signal}
    assert min(masses) <= 130.0 and max(masses) >= 1500.0
    quick = load_config(SearchSampleConfig, CONFIGS / "quick.yaml")
    assert sum(s.is_signal for s in quick.samples) == 2
    scaled = scale_events(full, 20_000)
    assert scaled.events == pytest.approx(20_000, rel=0.01)
    assert all(s.events >= 1 for s in scaled.samples)


def test_cli_writes_a_scaled_store(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command()(search_command)
    out = tmp_path / "quick"
    result = CliRunner().invoke(
        app, ["--config", str(CONFIGS / "quick.yaml"), "--out", str(out), "--events", "40"]
    )
    assert result.exit_code == 0, result.output
    store = open_store(out)
    assert store.rows == 40
    assert set(np.unique(store.read(["event/sample"])["event/sample"])) == {0, 1, 2, 3}


def test_pt_bias_populates_the_ttbar_tail_with_compensating_weights() -> None:
    def tail(sample: SearchSample) -> tuple[float, float]:
        generated = run_pythia(sample.pythia_settings("test"), 300, seed=4)
        fs, w = generated.final_state, generated.generator_weight
        met = np.hypot(fs.invisible_px, fs.invisible_py)
        return float(np.mean(met > 150.0)), float(np.sum(w * (met > 150.0)) / np.sum(w))

    plain_events, plain_share = tail(SearchSample(process="ttbar"))
    biased_events, biased_share = tail(
        SearchSample(process="ttbar", bias_pt_power=3.0, bias_pt_ref=100.0)
    )
    # Several times more simulated events in the E_T^miss tail ...
    assert biased_events > 3 * plain_events
    # ... while the weighted share of the tail (the physics) stays that of the unbiased sample.
    assert biased_share == pytest.approx(plain_share, abs=0.04)


def test_pt_bias_is_refused_for_drell_yan() -> None:
    with pytest.raises(ConfigError, match="2→1"):
        parse_config(SearchSample, {"process": "dy_ee", "bias_pt_power": 2.0}, "test")
