"""Summary figures say which comparisons the sample can rank."""

from __future__ import annotations

from heplearn.report.summary import Figure, compared


def test_a_difference_under_two_sigma_is_not_significant() -> None:
    assert "NOT significant (1.7σ" in compared(-0.171, 0.098, 0.0, "net vs BDT").note
    assert "significant (15.8σ)" in compared(0.263, 0.01665, 0.0, "net vs BDT").note
    # A ratio is compared with one.
    assert "NOT significant" in compared(0.44, 0.52, 1.0, "ML vs cuts").note
    assert "no error estimate" in compared(1.0, float("nan"), 0.0, "x").note


def test_figures_print_their_error_to_its_precision() -> None:
    assert Figure(0.02975, 0.00063).text() == "0.02975 ± 0.00063"
    assert Figure(300.0).text() == "300"
    assert Figure(1.011).text() == "1.011"
