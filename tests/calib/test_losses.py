"""Regression losses: minima where they belong, the right gradients, stability far from them."""

from __future__ import annotations

import math

import pytest
import torch

from heplearn.calib.losses import (
    LOSSES,
    SIGMA_LOSSES,
    beta_nll,
    gaussian_nll,
    logcosh,
    needs_sigma,
    thesis_nll,
)

POINT_LOSSES = sorted(set(LOSSES) - SIGMA_LOSSES)


def _targets(n: int = 512, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return 1.0 + 0.05 * torch.randn(n, generator=generator)


@pytest.mark.parametrize("name", POINT_LOSSES)
def test_point_losses_vanish_at_the_truth_only(name: str) -> None:
    y = _targets()
    loss = LOSSES[name]
    assert loss(y[:, None], y).item() == pytest.approx(0.0, abs=1e-7)
    assert loss((y + 0.01)[:, None], y).item() > 0.0
    assert not needs_sigma(name)


@pytest.mark.parametrize("name", sorted(SIGMA_LOSSES))
def test_nll_losses_are_minimal_at_the_truth_for_any_sigma(name: str) -> None:
    y = _targets()
    assert needs_sigma(name)
    for s in (-8.0, -1.0, 0.0, 2.0):
        mean = y.clone().requires_grad_(True)
        output = torch.stack([mean, torch.full_like(y, s)], dim=1)
        loss = LOSSES[name](output, y)
        (grad,) = torch.autograd.grad(loss, mean)
        assert torch.isfinite(loss)
        assert grad.abs().max().item() < 1e-6  # |y − ŷ| has a kink there: 0 is a minimum
        shifted = torch.stack([y + 0.02, torch.full_like(y, s)], dim=1)
        assert LOSSES[name](shifted, y).item() > loss.item()


def test_gaussian_nll_learns_the_variance_of_the_residuals() -> None:
    sigma = 0.03
    generator = torch.Generator().manual_seed(3)
    y = torch.ones(10_000, dtype=torch.float64)
    mean = y + sigma * torch.randn(len(y), generator=generator, dtype=torch.float64)

    def slope(s: float) -> float:
        """dL/ds of the NLL for one constant s, by autograd."""
        log_var = torch.full_like(y, s, requires_grad=True)
        loss = gaussian_nll(torch.stack([mean, log_var], dim=1), y)
        (grad,) = torch.autograd.grad(loss, log_var)
        return grad.sum().item()

    low, high = -20.0, 5.0  # the NLL is convex in s: bisect its slope to the minimum
    for _ in range(45):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if slope(middle) < 0 else (low, middle)
    best = 0.5 * (low + high)
    variance = ((mean - y) ** 2).mean().item()
    assert best == pytest.approx(math.log(variance), abs=1e-6)  # the exact optimum
    assert best == pytest.approx(math.log(sigma**2), abs=0.05)  # ln σ² is sampled to √(2/N) = 0.014


def test_beta_nll_scales_the_mean_gradient_by_sigma_to_the_2beta() -> None:
    y = torch.tensor([1.0, 1.0, 1.0])
    mean = torch.tensor([1.1, 0.95, 1.3], requires_grad=True)
    s = torch.tensor([-2.0, 0.5, 1.0], requires_grad=True)
    beta = 0.5
    loss = beta_nll(torch.stack([mean, s], dim=1), y, beta=beta)
    d_mean, d_s = torch.autograd.grad(loss, [mean, s])
    var = torch.exp(s.detach())
    expected = var**beta * (mean.detach() - y) / var / len(y)
    torch.testing.assert_close(d_mean, expected)
    # The weight is a constant: ln σ² still gets the plain NLL gradient, times σ^{2β}.
    nll_ds = 0.5 - 0.5 * (y - mean.detach()) ** 2 / var
    torch.testing.assert_close(d_s, var**beta * nll_ds / len(y))
    plain = beta_nll(torch.stack([mean, s], dim=1), y, beta=0.0)
    torch.testing.assert_close(plain, gaussian_nll(torch.stack([mean, s], dim=1), y))


def test_logcosh_is_finite_and_linear_for_huge_residuals() -> None:
    y = torch.zeros(3)
    pred = torch.tensor([[1e30], [-1e4], [50.0]], requires_grad=True)
    loss = logcosh(pred, y)
    (grad,) = torch.autograd.grad(loss, pred)
    assert torch.isfinite(loss) and torch.isfinite(grad).all()
    # ln cosh x → |x| − ln 2 with slope ±1.
    single = logcosh(torch.tensor([[50.0]]), torch.zeros(1)).item()
    assert single == pytest.approx(50.0 - math.log(2.0), rel=1e-6)
    torch.testing.assert_close(grad[:, 0], torch.tensor([1.0, -1.0, 1.0]) / 3)
    small = logcosh(torch.tensor([[1e-3]]), torch.zeros(1)).item()
    assert small == pytest.approx(0.5e-6, rel=1e-3)  # MSE-like near 0


def test_thesis_nll_is_bounded_below_where_the_printed_form_is_not() -> None:
    y = torch.ones(4)
    for shift in (1.0, 1e3, 1e6):
        output = torch.stack([y + shift, torch.full_like(y, -1.0)], dim=1)
        assert thesis_nll(output, y).item() > thesis_nll(torch.stack([y, y * -1.0], 1), y).item()


def test_weights_count_like_repeated_clusters() -> None:
    y = torch.tensor([1.0, 1.2])
    output = torch.tensor([[1.1, -3.0], [1.0, -2.0]])
    weighted = torch.tensor([3.0, 1.0])
    repeated = torch.tensor([0, 0, 0, 1])
    for loss in LOSSES.values():
        torch.testing.assert_close(loss(output, y, weighted), loss(output[repeated], y[repeated]))


def test_nll_needs_a_sigma_output() -> None:
    with pytest.raises(ValueError, match=r"\(N, 2\) output"):
        gaussian_nll(torch.ones(5, 1), torch.ones(5))
    with pytest.raises(KeyError, match="unknown loss"):
        needs_sigma("hinge")
