"""The closed-form cell integral of the GFlash radial density is exact and normalised."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from heplearn.detector.calorimeter.lateral import (
    cell_fractions,
    quadrant_integral,
    radial_parameters,
)


@pytest.mark.parametrize(("x", "y", "radius"), [(1.0, 2.0, 1.3), (0.3, 5.0, 0.7), (10.0, 0.2, 2.0)])
# quadrant_integral runs in float32: ~1e-7 relative precision.
def test_quadrant_integral_matches_numerical_integration(x: float, y: float, radius: float) -> None:
    density = lambda b, a: radius**2 / (np.pi * (a * a + b * b + radius**2) ** 2)  # noqa: E731
    numeric, _ = integrate.dblquad(density, 0, x, 0, y)
    assert quadrant_integral(np.array(x), np.array(y), np.array(radius)) == pytest.approx(
        numeric, rel=1e-6
    )


def test_cells_tile_the_plane_to_unity_and_are_symmetric() -> None:
    # ~2,500 cells (windows hold <= 250): float32 rounding stays well below 1e-4 in the sum.
    edges = np.linspace(-5000.0, 5000.0, 51)[None, :]
    fractions = cell_fractions(edges, edges, np.array([20.0]))
    assert fractions.sum() == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_allclose(fractions[0], fractions[0][::-1, ::-1], atol=1e-7)
    assert (fractions >= 0).all()


def test_core_narrower_than_tail_and_core_weight_falls_with_depth() -> None:
    tau = np.array([0.2, 1.0, 2.5])
    core, tail, weight = radial_parameters(np.full(3, 50.0), tau, z_eff=82.0)
    assert (core < tail).all()
    assert weight[0] > weight[2]
    assert (np.diff(core) > 0).all()  # showers widen with depth
