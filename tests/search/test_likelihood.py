"""The pyhf likelihood: agreement with the Asimov formula, channel combination, refit, MC stat."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from search_synthetic import gaussian_table

from heplearn.errors import DataError
from heplearn.search.channels import (
    ChannelHists,
    SampleHist,
    low_statistics_warnings,
    selection_channels,
)
from heplearn.search.likelihood import Uncertainties, build_workspace, fit_workspace
from heplearn.search.significance import asimov_z

NO_SYSTEMATICS = Uncertainties(mc_stat=False, normalisation=0.0, luminosity=0.0)
ONE_BIN = np.array([-0.5, 0.5])


def _hist(yields: float, events: int) -> SampleHist:
    """One bin holding ``events`` simulated events of equal weight summing to ``yields``."""
    return SampleHist(np.array([yields]), np.array([yields**2 / events]), np.array([events]))


def _one_bin(s: float, b: float, *, events: int = 10_000, name: str = "ee") -> ChannelHists:
    return ChannelHists(name, ONE_BIN, _hist(s, events), {"background": _hist(b, events)})


@pytest.mark.parametrize(
    ("s", "b"), [(10.0, 100.0), (3.0, 1000.0), (2.0, 1.5), (50.0, 10.0), (0.5, 0.2)]
)
def test_one_bin_without_uncertainties_is_the_asimov_formula(s: float, b: float) -> None:
    result = fit_workspace(build_workspace([_one_bin(s, b)], NO_SYSTEMATICS), limits=False)
    assert result.z_expected == pytest.approx(asimov_z(s, b), rel=0.01)


@pytest.mark.parametrize(("s", "b"), [(3.0, 1000.0), (1.0, 100.0), (20.0, 5000.0)])
def test_one_bin_with_sigma_b_matches_the_formula_when_s_is_small(s: float, b: float) -> None:
    """A 10 % normsys is the formula's σ_b for s ≪ b (the formula's own model is a Poisson
    auxiliary count; the Gaussian normsys departs from it by 1.5 % at s/b = 0.1)."""
    uncertainties = dataclasses.replace(NO_SYSTEMATICS, normalisation=0.10)
    result = fit_workspace(build_workspace([_one_bin(s, b)], uncertainties), limits=False)
    assert result.z_expected == pytest.approx(asimov_z(s, b, 0.10), rel=0.01)
    assert result.z_expected < 0.9 * asimov_z(s, b)  # the uncertainty is in the fit at all


def _flavour_table(seed: int, ee_signal_factor: float):  # type: ignore[no-untyped-def]
    """A small Gaussian sample whose ee signal is scaled: one channel dominates the other."""
    table = gaussian_table(300, 3000, np.random.default_rng(seed), background_yield=2000.0)
    ee = (table.column("flavour") == 11) & (table.is_signal == 1)
    return dataclasses.replace(
        table, weight=np.where(ee, table.weight * ee_signal_factor, table.weight)
    )


@pytest.mark.parametrize(("seed", "ee_factor"), [(1, 0.2), (2, 1.0), (3, 4.0)])
def test_combined_channels_beat_the_better_single_channel(seed: int, ee_factor: float) -> None:
    table = _flavour_table(seed, ee_factor)
    z_best = 0.0
    for cut in (200.0, 260.0):
        channels = selection_channels(table, table.column("mt") > cut)
        assert [c.name for c in channels] == ["ee", "mumu"]
        single = [fit_workspace(build_workspace([c]), limits=False).z_expected for c in channels]
        combined = fit_workspace(build_workspace(channels), limits=False).z_expected
        # The other channel's signal adds information (less than in quadrature: the
        # normalisation uncertainties are correlated between the channels).
        assert combined > max(single) * (1 + 1e-4), (cut, single, combined)
        z_best = max(z_best, combined)
    assert z_best > 1.0  # the sample has something to find


@pytest.mark.filterwarnings("ignore:jsonschema.RefResolver:DeprecationWarning")  # pyhf 0.7
def test_the_written_workspace_reproduces_its_limit_in_plain_pyhf(tmp_path: Path) -> None:
    import pyhf

    table = _flavour_table(4, 1.0)
    workspace = build_workspace(selection_channels(table, table.column("mt") > 220.0))
    result = fit_workspace(workspace)
    path = workspace.write(tmp_path / "workspace.json")

    spec = json.loads(path.read_text())
    refit = pyhf.Workspace(spec)
    model = refit.model()
    observed, expected = pyhf.infer.intervals.upper_limits.upper_limit(refit.data(model), model)
    band = [float(e) for e in expected]
    assert band == pytest.approx(list(result.limit_expected), rel=0.005)
    # The observations are the background-only expectation: observed = median expected.
    assert float(observed) == pytest.approx(result.limit_expected[2], rel=0.005)
    assert band[0] < band[1] < band[2] < band[3] < band[4]


def test_mc_statistics_cost_a_selection_of_few_heavy_background_events() -> None:
    """b = 100 from 2 events of weight 50 (one sample) or from 1000 events of weight 0.1."""
    s, b = 20.0, 100.0
    heavy = ChannelHists("ee", ONE_BIN, _hist(s, 500), {"dy_ee": _hist(b, 2)})
    light = ChannelHists("ee", ONE_BIN, _hist(s, 500), {"ttbar": _hist(b, 1000)})
    with_mc = Uncertainties(mc_stat=True, normalisation=0.0, luminosity=0.0)
    z_heavy = fit_workspace(build_workspace([heavy], with_mc), limits=False).z_expected
    z_light = fit_workspace(build_workspace([light], with_mc), limits=False).z_expected
    z_without = fit_workspace(build_workspace([heavy], NO_SYSTEMATICS), limits=False).z_expected
    assert z_light > 0.95 * z_without
    assert z_heavy < 0.6 * z_without  # σ_MC = b/√2: the selection is worth little
    warnings = low_statistics_warnings([heavy, light])
    assert len(warnings) == 1 and "dy_ee" in warnings[0] and "2.0 effective" in warnings[0]


def test_a_signal_with_no_expected_events_is_refused() -> None:
    empty = ChannelHists("ee", ONE_BIN, _hist(0.0, 1), {"background": _hist(50.0, 100)})
    with pytest.raises(DataError, match="signal with zero expected events in every bin"):
        build_workspace([empty])


def test_negative_bins_are_clipped_with_a_warning() -> None:
    edges = np.array([0.0, 1.0, 2.0])
    background = SampleHist(np.array([40.0, -2.5]), np.array([20.0, 3.0]), np.array([50, 4]))
    other = SampleHist(np.array([10.0, 5.0]), np.array([1.0, 1.0]), np.array([100, 50]))
    signal = SampleHist(np.array([3.0, 4.0]), np.array([0.1, 0.1]), np.array([30, 40]))
    channel = ChannelHists("mumu", edges, signal, {"dy_mumu": background, "ttbar": other})
    workspace = build_workspace([channel])
    (line,) = workspace.warnings
    assert "dy_mumu" in line and "2.5 events removed" in line and "μμ" in line
    dy = workspace.spec["channels"][0]["samples"][1]
    assert dy["name"] == "dy_mumu" and dy["data"] == [40.0, 0.0]


def test_data_with_other_binning_is_refused() -> None:
    channel = _one_bin(5.0, 50.0)
    with pytest.raises(DataError, match="data histogram with other binning"):
        build_workspace([channel], observed={"ee": (np.array([0.0, 1.0, 2.0]), np.array([3, 4]))})
    workspace = build_workspace([channel], observed={"ee": (ONE_BIN, np.array([70.0]))})
    result = fit_workspace(workspace)
    assert result.z_observed is not None and result.z_observed > result.z_expected
    assert result.limit_observed is not None and result.limit_observed > result.limit_expected[2]


def test_limits_against_the_mass_are_drawn_per_family(tmp_path: Path) -> None:
    from heplearn.search.limit_plots import grid_figure, limit_figures

    def entry(median: float) -> dict[str, object]:
        band = [median * f for f in (0.5, 0.7, 1.0, 1.4, 1.9)]
        return {"limit_expected": median, "limit_expected_band": band}

    points = {
        f"zp_dm_m{m}_mx10": {"mediator_mass": m, "invisible_mass": 10.0, "family": "zp_dm"}
        for m in (200, 500, 1000)
    }
    points["zh_inv_m125"] = {"mediator_mass": 125.0, "invisible_mass": 1.0, "family": "zh_inv"}
    likelihood = {
        name: {"xgboost": entry(0.001 * p["mediator_mass"]), "thesis_cuts": entry(2.0)}
        for name, p in points.items()
    }
    metrics = {"points": points, "likelihood": likelihood, "methods": ["thesis_cuts", "xgboost"]}
    figures = limit_figures(metrics, tmp_path)
    # One Z′ family with three masses; ZH has a single point, no curve.
    assert [path.name for path, _ in figures] == ["limits_zp_dm_minv10.png"]
    assert (tmp_path / "limits_zp_dm_minv10.pdf").is_file()
    # The grid map needs two invisible masses.
    assert grid_figure(metrics, tmp_path) is None
    points["zp_dm_m500_mx150"] = {"mediator_mass": 500, "invisible_mass": 150.0, "family": "zp_dm"}
    likelihood["zp_dm_m500_mx150"] = {"xgboost": entry(3.0), "thesis_cuts": entry(5.0)}
    drawn = grid_figure(metrics, tmp_path)
    assert drawn is not None and drawn[0].name == "limits_zp_grid.png"


def test_a_strong_signal_gets_a_limit_far_below_one() -> None:
    """μ starts at the rough limit estimate (here ~0.002): fits start inside μ's bounds."""
    result = fit_workspace(build_workspace([_one_bin(2.0e4, 10.0)]))
    assert result.z_expected > 50
    assert result.limit_note is None and result.limit_expected[2] < 0.01


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:jsonschema.RefResolver:DeprecationWarning")  # pyhf 0.7
def test_a_cls_cliff_from_one_heavy_event_is_located_and_said() -> None:
    """b = 5000 from one event (MC uncertainty 100 %): the fit can empty that background, so
    CLs falls off a cliff where μ·s exceeds what is left; the limit sits at the cliff."""
    import pyhf

    heavy = ChannelHists(
        "ee", ONE_BIN, _hist(2000.0, 500), {"dy_ee": _hist(5000.0, 1), "ttbar": _hist(500.0, 50)}
    )
    workspace = build_workspace([heavy])
    result = fit_workspace(workspace)
    assert result.limit_note is not None and "jumps" in result.limit_note
    median = result.limit_expected[2]
    model = pyhf.Workspace(workspace.spec).model()
    data = pyhf.Workspace(workspace.spec).data(model)
    with np.errstate(divide="ignore", invalid="ignore"):
        below = pyhf.infer.hypotest(0.96 * median, data, model, return_expected_set=True)[1][2]
        above = pyhf.infer.hypotest(1.04 * median, data, model, return_expected_set=True)[1][2]
    assert float(below) >= 0.05 > float(above)
