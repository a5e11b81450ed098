"""Padding strategies for missing jets; training-only mean fill saved as JSON."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from search_synthetic import columns_from_events, event, random_events

from heplearn.errors import DataError
from heplearn.search.observables import build_table
from heplearn.search.padding import JetMeans, jet_present
from heplearn.search.splits import split_table

EE = ((45.0, 0.0, 0.0, 11), (45.0, 0.0, math.pi, -11))
ONE_JET = [
    event(EE, ((80.0, 1.5, -0.5, 0),)),
    event(EE, ((60.0, -1.0, 1.0, 0), (30.0, 2.0, 3.0, 1))),
]


def test_indicator_padding_adds_presence_columns() -> None:
    table = build_table(columns_from_events(ONE_JET), padding="indicator")
    assert table.names[-2:] == ("jet1_present", "jet2_present")
    assert table.column("jet1_present").tolist() == [1.0, 1.0]
    assert table.column("jet2_present").tolist() == [0.0, 1.0]
    assert [table.column(f"jet2_{f}")[0] for f in ("pt", "eta", "phi")] == [0.0, 0.0, 0.0]
    assert table.padding == "indicator"


def test_thesis_padding_values() -> None:
    table = build_table(columns_from_events(ONE_JET), padding="thesis")
    assert [table.column(f"jet2_{f}")[0] for f in ("pt", "eta", "phi")] == [0.0, 10.0, 10.0]
    assert "jet1_present" not in table.names


def test_mean_padding_uses_training_means_of_real_jets(tmp_path: Path) -> None:
    table = build_table(random_events(400, np.random.default_rng(6)), padding="mean")
    train, _, test = split_table(table)
    means = JetMeans.fit(train)
    real = jet_present(train, 2)
    assert 0 < np.count_nonzero(real) < len(train)
    assert means.means["jet2_eta"] == pytest.approx(float(np.mean(train.column("jet2_eta")[real])))
    filled = means.apply(test)
    missing = ~jet_present(test, 2)
    assert np.any(missing)
    np.testing.assert_allclose(filled.column("jet2_pt")[missing], means.means["jet2_pt"], rtol=1e-6)
    # Real jets are untouched, and the placeholders (η = 10) are gone.
    np.testing.assert_array_equal(
        filled.column("jet2_pt")[~missing], test.column("jet2_pt")[~missing]
    )
    assert np.all(np.abs(filled.column("jet2_eta")) < 5)
    saved = means.save(tmp_path / "jet_means.json")
    assert JetMeans.load(saved) == means


def test_mean_padding_needs_real_jets_and_a_valid_file(tmp_path: Path) -> None:
    no_jets = build_table(columns_from_events([event(EE), event(EE)]), padding="mean")
    with pytest.raises(DataError, match="no events with 1 jet"):
        JetMeans.fit(no_jets)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other"}')
    with pytest.raises(DataError, match="not a heplearn jet-means file"):
        JetMeans.load(bad)
