"""The thesis' cut-and-count and the optimised cut-and-count."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from search_synthetic import columns_from_events, event, gaussian_table

from heplearn.errors import ConfigError
from heplearn.search.cuts import THESIS_CUTS, Cut, apply_cuts, cut_and_count, optimise_cuts
from heplearn.search.observables import EventTable, build_table
from heplearn.search.splits import split_table


def test_thesis_cuts_select_signal_like_and_reject_background_like_events() -> None:
    # Signal-like: a 145 GeV dilepton (two 150 GeV electrons 1 rad apart) recoiling against
    # 300 GeV of significant E_T^miss, no b-jet.
    signal_like = event(
        ((150.0, 0.0, 0.0, 11), (150.0, 0.0, 1.0, -11)),
        ((40.0, 1.0, 2.0, 0),),
        met=300.0,
        met_phi=0.5 + math.pi,
        met_significance=15.0,
        is_signal=1,
    )
    # Background-like: Z → ee with little E_T^miss.
    z_like = event(((45.0, 0.5, 0.0, 11), (44.0, 0.2, 3.0, -11)), met=20.0, met_significance=2.0)
    # Signal-like kinematics but a b-jet (tt̄-like): n_b = 0 rejects it.
    with_b = event(
        ((150.0, 0.0, 0.0, 11), (150.0, 0.0, 1.0, -11)),
        ((40.0, 1.0, 2.0, 1),),
        met=300.0,
        met_phi=0.5 + math.pi,
        met_significance=15.0,
    )
    table = build(signal_like, z_like, with_b)
    assert table.column("mll")[0] > 120 and table.column("mt2")[0] > 110
    assert table.column("mt")[0] > 160
    assert apply_cuts(table, THESIS_CUTS).tolist() == [True, False, False]
    result = cut_and_count(table, THESIS_CUTS)
    assert (result.s, result.b, result.n_signal_events) == (1.0, 0.0, 1)


def build(*events: dict[str, Any]) -> EventTable:
    return build_table(columns_from_events(list(events)))


def test_optimised_cuts_beat_the_thesis_cuts_on_held_out_events() -> None:
    table = gaussian_table(6000, 40000, np.random.default_rng(18))
    train, _, test = split_table(table)
    optimised = optimise_cuts(train, sigma_b_rel=0.1)
    thesis_train = cut_and_count(train, THESIS_CUTS, 0.1)
    assert optimised.train.z >= thesis_train.z
    assert optimised.train.b >= 1.0 and optimised.train.n_background_events >= 5
    thesis_test = cut_and_count(test, THESIS_CUTS, 0.1)
    optimised_test = cut_and_count(test, optimised.cuts, 0.1)
    assert optimised_test.z > 1.3 * thesis_test.z
    # The resonance at 200 GeV is found: an upper m_ℓℓ cut closes the window.
    upper = [c for c in optimised.cuts if c.variable == "mll" and c.op == "<"]
    assert upper and 200 < upper[0].value < 280
    assert optimised.to_dict()["cuts"]


def test_optimisation_never_selects_an_empty_background_region() -> None:
    table = gaussian_table(2000, 3000, np.random.default_rng(19), background_yield=50.0)
    result = optimise_cuts(table, min_background=2.0, min_background_events=20)
    assert result.train.b >= 2.0 and result.train.n_background_events >= 20


def test_bad_cuts() -> None:
    with pytest.raises(ValueError, match="unknown comparison"):
        Cut("mt", "=>", 1.0)
    table = gaussian_table(10, 10, np.random.default_rng(20))
    with pytest.raises(ConfigError, match="observable 'm_t'"):
        apply_cuts(table, [Cut("m_t", ">", 1.0)])
