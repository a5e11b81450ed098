"""Regression losses of the calibration networks (torch), with per-cluster weights.

Every loss takes ``output`` (N, 1) — the predicted target — or (N, 2) — the
target and s = ln σ² — with ``target`` (N,) and optional ``weight`` (N,), and
returns the weighted mean ``Σ w·L / Σ w``.

- ``logcosh``: ln cosh(ŷ − y) (thesis eq. 4.1), computed as ln(1 + 2 sinh²(x/2))
  (precise for small residuals) and as |x| − ln 2 beyond |x| = 20, so it stays
  finite where cosh overflows.
- ``mse``: (ŷ − y)².
- ``scouting``: (ŷ / y − 1)², the relative error of the CMS scouting regression.
- ``gaussian-nll``: (y − ŷ)² / (2 e^s) + s / 2 (thesis eq. 4.4, σ² = e^s).
- ``beta-nll``: the Gaussian NLL of each cluster weighted by stop-gradient(σ^{2β})
  (Seitzer et al., ICLR 2022): the mean's gradient becomes σ^{2β}·(ŷ − y)/σ², so
  clusters with large predicted σ no longer stop the mean from learning; β = 0 is
  the plain NLL, β = 1 gives the mean MSE-like gradients.
- ``thesis-nll``: the thesis' proposed fix (eq. 7.1), an extra error term that
  keeps the residual influential at large σ:
  ½[(y − ŷ)² / e^s + s + |y − ŷ| / (1 + softplus(s))].  Two changes make it a
  usable loss: the residual enters as |y − ŷ| (the printed signed residual is
  unbounded below, so the loss falls without limit as ŷ → ∞), and 1 + s becomes
  1 + softplus(s), which equals it for s ≫ 1 but stays positive (1 + s vanishes
  at s = −1 and is negative below, where ratio targets live: σ ≈ 2 % → s ≈ −8).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F  # noqa: N812 (the usual torch alias)

__all__ = [
    "LOSSES",
    "SIGMA_LOSSES",
    "beta_nll",
    "gaussian_nll",
    "logcosh",
    "mse",
    "needs_sigma",
    "scouting",
    "thesis_nll",
]

LossFn = Callable[..., torch.Tensor]


def _mean(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The predicted target (N,) from an (N,), (N, 1) or (N, 2) output."""
    if output.ndim == 1:
        return output
    if output.ndim != 2 or output.shape[1] not in (1, 2) or len(output) != len(target):
        raise ValueError(f"output of shape {tuple(output.shape)} for {len(target)} targets")
    return output[:, 0]


def _mean_and_s(output: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted target, s = ln σ²) from an (N, 2) output."""
    if output.ndim != 2 or output.shape[1] != 2 or len(output) != len(target):
        raise ValueError(
            f"this loss needs an (N, 2) output (target, ln σ²), got {tuple(output.shape)}"
        )
    return output[:, 0], output[:, 1]


def _reduce(per_cluster: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    if weight is None:
        return per_cluster.mean()
    weight = weight.to(per_cluster.dtype)
    return (weight * per_cluster).sum() / weight.sum()


#: Beyond this |residual| ln cosh x = |x| − ln 2 to float64 precision (e^{−2x} < 1e-17).
_LOGCOSH_LINEAR = 20.0


def logcosh(
    output: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    scale: float = 1.0,
) -> torch.Tensor:
    """δ²·ln cosh((ŷ − y)/δ): MSE/2 for residuals ≪ δ, δ·|ŷ − y| beyond (δ = ``scale``).

    On a ratio target residuals are ~0.05, so δ = 1 (the thesis) is plain MSE; a δ near the
    core width restores the MAE-like tails that make log-cosh robust to mislabelled clusters.
    """
    x = (_mean(output, target) - target).abs() / scale
    # ln cosh x = ln(1 + 2 sinh²(x/2)) keeps the precision of small residuals (ln(cosh x) would
    # round cosh x to 1); the clamp keeps sinh finite so the unused branch has no NaN gradient.
    near = torch.log1p(2.0 * torch.sinh(0.5 * x.clamp(max=_LOGCOSH_LINEAR)) ** 2)
    far = x - math.log(2.0)
    return _reduce(scale**2 * torch.where(x < _LOGCOSH_LINEAR, near, far), weight)


def mse(
    output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    return _reduce((_mean(output, target) - target) ** 2, weight)


def scouting(
    output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    return _reduce((_mean(output, target) / target - 1.0) ** 2, weight)


def _nll(mean: torch.Tensor, s: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    # exp(−s) instead of a division by exp(s): no overflow for very negative s.
    return 0.5 * (target - mean) ** 2 * torch.exp(-s) + 0.5 * s


def gaussian_nll(
    output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    mean, s = _mean_and_s(output, target)
    return _reduce(_nll(mean, s, target), weight)


def beta_nll(
    output: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    beta: float = 0.5,
) -> torch.Tensor:
    mean, s = _mean_and_s(output, target)
    factor = torch.exp(beta * s).detach()  # σ^{2β}, a weight only: no gradient flows through it
    return _reduce(factor * _nll(mean, s, target), weight)


def thesis_nll(
    output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    mean, s = _mean_and_s(output, target)
    error = (target - mean).abs() / (1.0 + F.softplus(s))
    return _reduce(_nll(mean, s, target) + 0.5 * error, weight)


LOSSES: dict[str, LossFn] = {
    "logcosh": logcosh,
    "mse": mse,
    "scouting": scouting,
    "gaussian-nll": gaussian_nll,
    "beta-nll": beta_nll,
    "thesis-nll": thesis_nll,
}

#: Losses that need a second output s = ln σ².
SIGMA_LOSSES = frozenset({"gaussian-nll", "beta-nll", "thesis-nll"})


def needs_sigma(name: str) -> bool:
    """Whether the loss ``name`` trains an uncertainty output (the model needs 2 outputs)."""
    if name not in LOSSES:
        raise KeyError(f"unknown loss {name!r}; known: {', '.join(LOSSES)}")
    return name in SIGMA_LOSSES
