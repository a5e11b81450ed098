"""A statistical model of good maps from a few reference maps, and its tail probabilities.

Per channel c the count of a good map k is negative-binomial with mean
``m_kc = rate_c · L_k · (L_k/L₀)^γ_c`` and variance ``m + α_c m²``:

- ``L_k`` is the map's luminosity, from the robust scale of
  :meth:`heplearn.dqm.reference.Reference.scale` (median ratio to the reference over
  well-populated live channels, refined over those within 4σ): a hot or dead region,
  which moves the map total, does not move it;
- ``rate_c = Σ_k n_kc / Σ_k L_k``, fitted with the ``L_k`` of the reference maps, and a
  per-channel non-linear response ``(L/L₀)^γ_c`` (:mod:`heplearn.dqm.lumi_response`);
- ``α_c`` the over-dispersion (gain variations between lumisections that Poisson
  statistics do not cover): the moment estimate ``Σ_k[(n − m)² − m(1 − h_k)] /
  Σ_k m²(1 − h_k)`` over the K reference maps (h_k = L_k/ΣL, the fitted mean's
  leverage), shrunk (empirical Bayes, :mod:`heplearn.dqm.shrinkage`) toward the pooled
  value of its first-level group (tower, block), itself shrunk toward the detector's,
  so that 5 reference maps give a usable value;
- the estimated α is itself uncertain: its standard error turns the tail into a
  Student-t one with ν = 2/δ² degrees of freedom (δ the variance's relative error);
- the fitted rate's own uncertainty adds ``1/R_c + α_c ΣL²/(ΣL)²`` (R_c the summed
  reference hits) to α: few reference maps widen the tails, as they should.

Each group g (:mod:`heplearn.dqm.groups`) gets the same model for its summed count,
with its own ``α_g`` estimated from the group sums of the reference maps (correlated
tower and readout-unit variations included), shrunk toward the pooled value of its
level.  Tail probabilities are exact negative-binomial ones (regularised incomplete
beta), turned into a one-sided Gaussian-equivalent significance ``z`` with the sign
of the deviation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from heplearn.dqm.groups import Grouping
from heplearn.dqm.lumi_response import LumiResponse, fit_response
from heplearn.dqm.maps import MapSet
from heplearn.dqm.reference import Reference, fit_reference
from heplearn.dqm.shrinkage import shrink
from heplearn.errors import DataError

__all__ = ["Dispersion", "fit_dispersion", "significance"]

Array = np.ndarray[Any, Any]

#: Exact tails are computed only where the Gaussian |z| exceeds this (the rest pass).
PREFILTER_Z = 2.0
#: Significances are capped here (a dead supermodule's p underflows to 0).
MAX_Z = 40.0


def significance(counts: Array, mean: Array, alpha: Array, alpha_sd: Array | None = None) -> Array:
    """Signed Gaussian-equivalent significance of ``counts`` under NB(mean, var m + α m²).

    Positive above the mean (from P(X ≥ n)), negative below (from P(X ≤ n)); the exact
    tail is computed where the Gaussian or the log-normal |z| exceeds ``PREFILTER_Z``,
    elsewhere the Gaussian z stands (such channels are far from any threshold).
    """
    n = np.rint(counts)
    var = mean * (1.0 + alpha * mean)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, (n - mean) / np.sqrt(var), 0.0)
    # The NB is skewed when α·m is large: a zero can be far in the tail while the Gaussian z
    # is small (a dead region under a wide extrapolation). Its log-normal z catches those.
    with np.errstate(divide="ignore", invalid="ignore"):
        log_z = np.log((n + 0.5) / (mean + 0.5)) / np.sqrt(np.log1p(alpha + 1.0 / (mean + 0.5)))
    far = (np.abs(z) > PREFILTER_Z) | (np.abs(np.nan_to_num(log_z)) > PREFILTER_Z)
    if not far.any():
        return z
    m, a, k, zf = mean[far], np.maximum(alpha[far], 1e-12), n[far], z[far]
    r = 1.0 / a
    p = r / (r + m)  # NB(r, p): P(X ≤ k) = I_p(r, k + 1)
    poisson = a < 1e-8  # the beta form loses precision as r → ∞
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        upper = np.where(
            poisson,
            special.gammainc(np.maximum(k, 1.0), m),
            special.betainc(np.maximum(k, 1.0), r, 1.0 - p),
        )  # P(X ≥ k), k ≥ 1
        lower = np.where(
            poisson, special.gammaincc(k + 1.0, m), special.betainc(r, k + 1.0, p)
        )  # P(X ≤ k)
        tail = np.where(zf > 0, upper, lower)
        exact = -special.ndtri(np.clip(tail, 0.0, 1.0))  # one-sided z of the tail
    exact = np.where(np.isfinite(exact), exact, MAX_Z)
    if alpha_sd is not None:
        # The variance is itself estimated: read z as Student-t with ν = 2/δ² (δ its rel. error).
        sd = alpha_sd[far] * m**2
        with np.errstate(divide="ignore", invalid="ignore"):
            nu = np.where(sd > 0, 2.0 * (m * (1.0 + a * m) / sd) ** 2, np.inf)
            t_tail = special.stdtr(np.minimum(nu, 1e6), -exact)
            exact = np.where(nu < 1e6, -special.ndtri(t_tail), exact)
        exact = np.where(np.isfinite(exact), exact, MAX_Z)
    z[far] = np.sign(zf) * np.clip(exact, 0.0, MAX_Z)
    return z


def _alpha(resid: Array, msq: Array) -> Array:
    """Moment estimate of α from summed ``(n − m)² − m(1 − h)`` and ``m²(1 − h)`` (≥ 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(msq > 0, resid / msq, 0.0)
    return np.maximum(a, 0.0)


def _moments(counts: Array, mean: Array, leverage: Array) -> tuple[Array, Array]:
    """Summed residual and ``m²`` terms; a map's leverage h = L_k/ΣL shrinks its residual."""
    keep = (1.0 - leverage)[:, None]
    resid = ((counts - mean) ** 2 - mean * keep).sum(axis=0)
    return resid, (mean**2 * keep).sum(axis=0)


def _noise(mean: Array, alpha: Array) -> Array:
    """Sampling variance of the moment estimate of α (Gaussian fourth moment: 2·var²)."""
    var = mean + alpha[None, :] * mean**2
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 2.0 * (var**2).sum(axis=0) / (mean**2).sum(axis=0) ** 2
    return np.where(np.isfinite(out), out, 0.0)


@dataclass(frozen=True)
class Dispersion:
    """The fitted model: rate per unit luminosity, α per channel and per group."""

    reference: Reference  # linear rate per unit L (sets each map's L); ref_events = Σ L_k
    rate: Array  # (C,) rate at the reference luminosity point, with the response below
    response: LumiResponse  # per-channel non-linearity in L
    alpha: Array  # (C,) flat per-channel α incl. the rate's uncertainty, 0 where masked
    alpha_sd: Array  # (C,) the estimated α's standard error
    group_rate: Array  # (G,) summed live linear rate of each group
    group_alpha: Array  # (G,) incl. the rate's uncertainty
    group_alpha_sd: Array  # (G,)
    grouping: Grouping
    n_maps: int
    #: (lowest, highest) robust luminosity of the reference maps (hits per event when
    #: ``response_per_event``); None for runs saved before it was kept.
    lumi_range: tuple[float, float] | None = None
    #: The response follows each map's hits per event (L / n_events: the pile-up) when the
    #: maps carry an event count; without one (n_events = the map total) it follows L.
    response_per_event: bool = False
    #: log(hits per event) = x0 + offset + gain · (the level read off a map's pattern),
    #: fitted on the reference maps: calibrates the pattern for maps without an event count.
    pattern_offset: float = 0.0
    pattern_gain: float = 1.0

    @property
    def live(self) -> Array:
        return np.asarray(self.reference.mask.reshape(-1))

    def luminosity(self, maps: MapSet) -> Array:
        """(N,) robust luminosity L of each map, in the units of the reference."""
        return np.asarray(self.reference.scale(maps) * maps.n_events.astype(np.float64))

    def level(self, maps: MapSet, lumi: Array) -> Array:
        """(N,) what the luminosity response follows: hits per event, or L (see the field)."""
        if not self.response_per_event:
            return lumi
        counts = maps.counts.reshape(len(maps), -1).astype(np.float64)
        # A map without an event count (n_events = its total): its pile-up is read off its
        # own pattern — how its channels sit against their different slopes.
        counted = (maps.n_events > 0) & ~np.isclose(maps.n_events, counts.sum(axis=1), rtol=1e-6)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_event = np.where(counted, lumi / maps.n_events, 0.0)
        if counted.all():
            return per_event
        return np.where(counted, per_event, self._level_from_pattern(counts, lumi))

    def _level_from_pattern(self, counts: Array, lumi: Array) -> Array:
        """(N,) hits-per-event level fitted to each map's y_c = log(n/linear) against γ_c."""
        linear = lumi[:, None] * self.rate[None, :]
        live = self.live & (self.rate > 0)
        slope = (self.response.slope - np.average(self.response.slope[live]))[None, :]
        y = np.log((counts + 0.5) / (linear + 0.5))
        base = np.where(live[None, :] & (linear > 5.0), linear / (1.0 + self.alpha * linear), 0.0)
        x, w = np.zeros((len(counts), 1)), base
        for _ in range(3):  # refit without the channels a fault or a fluctuation moves
            offset = (w * (y - x * slope)).sum(axis=1, keepdims=True) / np.maximum(
                w.sum(axis=1, keepdims=True), 1e-300
            )
            num = (w * slope * (y - offset)).sum(axis=1, keepdims=True)
            den = (w * slope**2).sum(axis=1, keepdims=True)
            x = np.where(den > 0, num / np.maximum(den, 1e-300), 0.0)
            w = np.where(np.abs(y - offset - x * slope) * np.sqrt(base) < 4.0, base, 0.0)
        x0 = self.response.log_lumi0 + self.pattern_offset
        return np.exp(x0 + self.pattern_gain * x[:, 0])

    def channel_z(
        self, maps: MapSet, lumi: Array, level: Array | None = None
    ) -> tuple[Array, Array]:
        """(N, C) signed significance per channel (0 where masked) and expected counts.

        ``level``: :meth:`level` of these maps when the caller has it (computed otherwise).
        """
        counts = maps.counts.reshape(len(maps), -1).astype(np.float64)
        level = self.level(maps, lumi) if level is None else level
        mean = self.expected(lumi, level)
        alpha = self.alpha[None, :] + self.response.extra_alpha(level)
        sd = np.broadcast_to(self.alpha_sd[None, :], mean.shape)
        z = significance(counts, mean, alpha, sd)
        return np.where(self.live[None, :], z, 0.0), mean

    def group_z(self, maps: MapSet, lumi: Array, level: Array | None = None) -> Array:
        """(N, G) signed significance of each group's summed live count (``level`` as above)."""
        counts = maps.counts.reshape(len(maps), -1).astype(np.float64) * self.live[None, :]
        members = self.grouping.members
        sums = np.asarray(members @ counts.T).T
        level = self.level(maps, lumi) if level is None else level
        channel_mean = self.expected(lumi, level)
        mean = np.asarray(members @ channel_mean.T).T
        # The slopes' errors, fully correlated (they share the pooled slope): Σ m·x·sd.
        slope_sd = np.asarray(
            members @ (channel_mean * np.sqrt(self.response.extra_alpha(level))).T
        ).T
        with np.errstate(divide="ignore", invalid="ignore"):
            extra = np.where(mean > 0, (slope_sd / mean) ** 2, 0.0)
        alpha = self.group_alpha[None, :] + extra
        sd = np.broadcast_to(self.group_alpha_sd[None, :], mean.shape)
        return significance(sums, mean, alpha, sd)

    def expected(self, lumi: Array, level: Array | None = None) -> Array:
        """(N, C) expected counts at luminosities ``lumi`` (0 where masked).

        ``level``: what the response follows (:meth:`level`); ``lumi`` when not given.
        """
        response_at = lumi if level is None else level
        return lumi[:, None] * self.rate[None, :] * self.response.factor(response_at)

    def n_tests(self) -> int:
        """Channel and group tests of one map (the look-elsewhere count)."""
        return int(self.live.sum()) + int((self.group_rate > 0).sum())


def _luminosity(reference: Reference, maps: MapSet) -> Array:
    return np.asarray(reference.scale(maps) * maps.n_events.astype(np.float64))


def _pool_noise(noise: Array, mean: Array, glob: float, common: Array, primary: Array) -> Array:
    """Sampling variance of each group's pooled α: its channels' noise, averaged down by n.

    A gain shared by the group's channels (its group-sum α, ``common``) correlates their
    estimates: a share ρ = (α_common m²/var)² of each channel's noise does not average out.
    """
    inside = primary >= 0
    m = mean.mean(axis=0)
    var = m + glob * m**2
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(var > 0, (common[np.maximum(primary, 0)] * m**2 / var) ** 2, 0.0)
    rho = np.clip(rho, 0.0, 1.0)
    n = np.maximum(np.bincount(primary[inside], minlength=common.size), 1)
    per = noise * (rho + (1.0 - rho) / n[np.maximum(primary, 0)])
    return np.bincount(primary[inside], per[inside], minlength=common.size) / n


def _channel_alpha(
    counts: Array, mean: Array, leverage: Array, live: Array, *, primary: Array, common: Array
) -> tuple[Array, Array]:
    """Per-channel α and its standard error: own estimate → group pool → global pool."""
    n_groups = common.size
    resid, msq = _moments(counts, mean, leverage)
    own = _alpha(resid, msq)
    glob = float(_alpha(resid[live].sum(), msq[live].sum()))
    prior = np.full(own.shape, glob)
    inside = live & (primary >= 0)
    pooled_r = np.bincount(primary[inside], resid[inside], minlength=n_groups)
    pooled_m = np.bincount(primary[inside], msq[inside], minlength=n_groups)
    pooled = np.where(pooled_m > 0, _alpha(pooled_r, pooled_m), glob)
    noise = _noise(mean, np.full(own.shape, glob))
    pool_noise = _pool_noise(noise, mean, glob, common, np.where(live, primary, -1))
    pooled, pooled_sd = shrink(pooled, np.full(n_groups, glob), pool_noise)
    prior[inside] = pooled[primary[inside]]
    prior_sd = np.zeros_like(own)
    prior_sd[inside] = pooled_sd[primary[inside]]
    alpha, alpha_sd = np.zeros_like(own), np.zeros_like(own)
    alpha[live], alpha_sd[live] = shrink(own[live], prior[live], noise[live])
    return alpha, np.hypot(alpha_sd, prior_sd)


def _group_alpha(
    g_counts: Array, g_mean: Array, leverage: Array, levels: list[str]
) -> tuple[Array, Array]:
    """Per-group α from the group sums and its standard error, shrunk toward its level's pool."""
    g_resid, g_msq = _moments(g_counts, g_mean, leverage)
    g_own = _alpha(g_resid, g_msq)
    kinds = np.array(levels)
    g_prior = np.zeros_like(g_own)
    for level in np.unique(kinds):
        sel = kinds == level
        g_prior[sel] = _alpha(g_resid[sel].sum(), g_msq[sel].sum())
    return shrink(g_own, g_prior, _noise(g_mean, g_prior))


def _rate_variance(hits: Array) -> Array:
    """Relative variance of a fitted rate from its summed reference hits (Poisson: 1/R)."""
    with np.errstate(divide="ignore"):
        return np.where(hits > 0, 1.0 / hits, 0.0)


def fit_dispersion(good: MapSet, grouping: Grouping, valid: Array | None = None) -> Dispersion:
    """Fit rate, luminosities and over-dispersion on good reference maps (module docstring)."""
    good = good.subset(np.flatnonzero(~good.empty))
    k = len(good)
    if k < 2:
        raise DataError(
            "too few reference maps",
            "reference maps",
            f"{k} good map(s) with statistics; the spread between maps needs at least 2",
            "give more good maps (5 or more)",
        )
    grouping.check_shape(good.shape)
    reference = fit_reference(good, valid)
    counts = good.counts.reshape(k, -1).astype(np.float64)
    for _ in range(3):  # rate ↔ luminosity: converges in a few steps
        lumi = _luminosity(reference, good)
        total = float(lumi.sum())
        rate = np.where(reference.mask, reference.ref_counts / total, 0.0)
        reference = Reference(rate, reference.mask, reference.ref_counts, total)
    live = reference.mask.reshape(-1)
    linear = lumi[:, None] * rate.reshape(-1)[None, :]
    leverage = lumi / total
    first_alpha = float(_alpha(*(v[live].sum() for v in _moments(counts, linear, leverage))))
    # Maps with an event count: pile-up non-linearity follows hits per event, not L.
    per_event = not np.allclose(good.n_events, counts.sum(axis=1), rtol=1e-6)
    level = lumi / good.n_events if per_event else lumi
    response = fit_response(counts, linear, level, live, first_alpha)
    factor = response.factor(level)
    # The rate at the reference point: the corrected expectations sum to the reference hits.
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = (lumi[:, None] * factor).sum(axis=0)
        rate_nl = np.where(live & (weight > 0), counts.sum(axis=0) / weight, 0.0)
    mean = lumi[:, None] * rate_nl[None, :] * factor
    # A new map's own luminosity enters the fitted rate's error: ΣL²/(ΣL)².
    lumi_spread = float((lumi**2).sum() / total**2)
    members = grouping.members
    g_counts = np.asarray(members @ (counts * live[None, :]).T).T
    g_rate = np.asarray(members @ rate.reshape(-1))
    g_mean = np.asarray(members @ mean.T).T
    g_alpha, g_sd = _group_alpha(g_counts, g_mean, leverage, grouping.levels)
    alpha, alpha_sd = _channel_alpha(
        counts, mean, leverage, live, primary=grouping.primary(), common=g_alpha
    )
    alpha = np.where(
        live, alpha * (1.0 + lumi_spread) + _rate_variance(reference.ref_counts.reshape(-1)), 0.0
    )
    g_alpha = g_alpha * (1.0 + lumi_spread) + _rate_variance(g_rate * total)
    # The range a new map's L is judged against, as Dispersion.luminosity will measure it.
    final = _luminosity(reference, good)
    final = final / good.n_events if per_event else final
    model = Dispersion(
        reference,
        rate_nl,
        response,
        alpha,
        alpha_sd,
        g_rate,
        g_alpha,
        g_sd,
        grouping,
        k,
        (float(final.min()), float(final.max())),
        per_event,
    )
    if not per_event:
        return model
    # The same maps without their event count: how far their pattern reads off.
    read = np.log(model._level_from_pattern(counts, _luminosity(reference, good)))
    if np.ptp(read) <= 0:
        return model
    gain, offset = np.polyfit(read - response.log_lumi0, np.log(final) - response.log_lumi0, 1)
    return dataclasses.replace(model, pattern_offset=float(offset), pattern_gain=float(gain))
