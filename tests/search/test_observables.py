"""Preselection and observables computed from store-shaped columns."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from search_synthetic import columns_from_events, event, random_events

from heplearn.data import write_store
from heplearn.errors import ConfigError, DataError, SchemaError
from heplearn.search.observables import FEATURE_NAMES, build_table, preselect

EE = ((45.0, 0.0, 0.0, 11), (45.0, 0.0, math.pi, -11))


def test_mll_of_back_to_back_leptons() -> None:
    table = build_table(columns_from_events([event(EE)]))
    assert len(table) == 1
    assert table.column("mll")[0] == pytest.approx(90.0, rel=1e-6)
    assert table.column("ptll")[0] == pytest.approx(0.0, abs=1e-4)
    assert table.column("dphi_ll")[0] == pytest.approx(math.pi, rel=1e-6)


def test_mt_and_mt2_for_a_hand_computed_configuration() -> None:
    # Two 50 GeV electrons along +x (different η), E_T^miss = 200 GeV along −x.  m_T2 splits
    # the MET evenly: each half (100 GeV) is back to back with a lepton, so
    # m_T2 = √(2·50·100·2) = 141.42 GeV; m_T of the 100 GeV dilepton with the MET is
    # √(2·100·200·2) = 282.84 GeV; m_ℓℓ = √(2·50·50·(cosh 1 − 1)).
    leptons = ((50.0, 0.0, 0.0, 11), (50.0, 1.0, 0.0, -11))
    table = build_table(columns_from_events([event(leptons, met=200.0, met_phi=math.pi)]))
    assert table.column("mt2")[0] == pytest.approx(2 * math.sqrt(50 * 100), rel=1e-5)
    assert table.column("mt")[0] == pytest.approx(math.sqrt(2 * 100 * 200 * 2), rel=1e-5)
    assert table.column("mll")[0] == pytest.approx(
        math.sqrt(2 * 50 * 50 * (math.cosh(1.0) - 1)), rel=1e-5
    )
    assert table.column("dphi_met_ll")[0] == pytest.approx(math.pi, rel=1e-6)
    assert table.column("dphi_ll")[0] == pytest.approx(0.0, abs=1e-6)


def test_mt2_vanishes_without_met_and_is_nonnegative() -> None:
    table = build_table(columns_from_events([event(EE, met=0.0)]))
    assert table.column("mt2")[0] == pytest.approx(0.0, abs=1e-3)
    random = build_table(random_events(300, np.random.default_rng(3)))
    mt2 = random.column("mt2")
    assert np.all(np.isfinite(mt2)) and np.all(mt2 >= 0)
    # m_T2 ≤ max m_T(ℓ_i, E_T^miss) for massless particles: at least sometimes strictly positive.
    assert np.count_nonzero(mt2 > 1) > 100


def test_preselection_keeps_only_two_ossf_leptons_above_thresholds() -> None:
    good = event(((60.0, 0.1, 0.0, 13), (30.0, -0.2, 2.0, -13)))
    cases = [
        good,
        event(((60.0, 0.1, 0.0, 13), (30.0, -0.2, 2.0, 13))),  # same sign
        event(((60.0, 0.1, 0.0, 13), (30.0, -0.2, 2.0, -11))),  # different flavour
        event(((60.0, 0.1, 0.0, 13), (30.0, -0.2, 2.0, -13), (15.0, 0.0, 1.0, 11))),  # three
        event(((60.0, 0.1, 0.0, 13),)),  # one
        event(((60.0, 0.1, 0.0, 13), (19.0, -0.2, 2.0, -13))),  # second below 20 GeV
        event(((24.0, 0.1, 0.0, 13), (21.0, -0.2, 2.0, -13))),  # leading below 25 GeV
        event(((30.0, -0.2, 2.0, -11), (60.0, 0.1, 0.0, 11))),  # unsorted but fine
    ]
    mask = preselect(columns_from_events(cases))
    assert mask.tolist() == [True, False, False, False, False, False, False, True]
    table = build_table(columns_from_events(cases))
    assert table.event_id.tolist() == [0, 7]
    assert table.column("lep1_pt").tolist() == [60.0, 60.0]  # ordered by pT


def test_jets_counts_ordering_and_thesis_padding() -> None:
    jets = ((40.0, 1.0, 0.5, 0), (120.0, -2.0, -1.0, 1), (25.0, 3.0, 2.0, 1))
    table = build_table(columns_from_events([event(EE, jets), event(EE, jets[:1]), event(EE)]))
    assert table.column("n_jets").tolist() == [3, 1, 0]
    assert table.column("n_bjets").tolist() == [2, 0, 0]
    assert table.column("jet1_pt").tolist() == [120.0, 40.0, 0.0]
    assert table.column("jet2_pt").tolist() == [40.0, 0.0, 0.0]
    assert table.column("jet2_eta").tolist() == [1.0, 10.0, 10.0]
    assert table.column("jet1_phi")[2] == 10.0
    assert table.names == FEATURE_NAMES
    assert table.features.dtype == np.float32


def test_labels_and_weights_follow_the_selected_events() -> None:
    events = [
        event(EE, weight=0.5, is_signal=1, sample=3, mediator_mass=500.0, invisible_mass=100.0),
        event(((60.0, 0.1, 0.0, 13),)),  # rejected
        event(EE, weight=-2.0, sample=1),
    ]
    table = build_table(columns_from_events(events), sample_names=["a", "b", "c", "zp"])
    assert table.weight.tolist() == [0.5, -2.0]
    assert table.is_signal.tolist() == [1, 0]
    assert table.sample.tolist() == [3, 1]
    assert table.mediator_mass.tolist() == [500.0, 0.0]
    assert table.invisible_mass.tolist() == [100.0, 0.0]
    assert table.sample_names == ("a", "b", "c", "zp")
    sub = table.subset(np.array([1]))
    assert sub.weight.tolist() == [-2.0] and len(sub) == 1
    picked = table.select(["mll", "met"])
    assert picked.names == ("mll", "met") and picked.features.shape == (2, 2)


def test_nan_observables_are_refused_with_field_and_count() -> None:
    cols = random_events(20, np.random.default_rng(4))
    cols["met/met"][[2, 5]] = np.nan
    with pytest.raises(DataError, match=r"met/met \(2\)"):
        build_table(cols)
    cols = columns_from_events([event(((np.nan, 0.0, 0.0, 11), (30.0, 0.0, 1.0, -11)))])
    with pytest.raises(DataError, match=r"leptons/pt \(1\)"):
        build_table(cols)


def test_missing_fields_and_unknown_names() -> None:
    cols = columns_from_events([event(EE)])
    del cols["jets/btag"]
    with pytest.raises(SchemaError, match="jets/btag"):
        build_table(cols)
    table = build_table(columns_from_events([event(EE)]))
    with pytest.raises(ConfigError, match="did you mean 'met_significance'"):
        table.column("met_signif")
    with pytest.raises(ConfigError, match="padding 'zeros'"):
        build_table(columns_from_events([event(EE)]), padding="zeros")


def test_build_table_from_a_store_file(tmp_path: Path) -> None:
    cols = random_events(50, np.random.default_rng(5))
    path = write_store(tmp_path / "search.h5", cols, provenance={"samples": ["dy_ee", "zp"]})
    from_store = build_table(path)
    from_columns = build_table(cols)
    np.testing.assert_array_equal(from_store.features, from_columns.features)
    np.testing.assert_array_equal(from_store.event_id, from_columns.event_id)
    assert from_store.sample_names == ("dy_ee", "zp")
    assert len(from_store) == 50
