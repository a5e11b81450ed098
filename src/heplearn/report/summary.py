"""Headline figures of a summary (``heplearn demo``): a value, its 1σ statistical error, and
whether a comparison between two methods is significant on the sample at hand."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["SIGNIFICANT", "Figure", "compared"]

#: A difference counts as significant from this many standard errors.
SIGNIFICANT = 2.0


@dataclass(frozen=True)
class Figure:
    """One summary line: ``value ± error`` and a note (significance, resolved rate…)."""

    value: float
    error: float | None = None
    note: str = ""

    def text(self) -> str:
        """The value as the summary prints it, with its error when there is one."""
        if self.error is None or not math.isfinite(self.error):
            return f"{self.value:,.0f}" if float(self.value).is_integer() else f"{self.value:.4g}"
        digits = max(0, -math.floor(math.log10(self.error)) + 1) if self.error > 0 else 4
        return f"{self.value:.{digits}f} ± {self.error:.{digits}f}"


def compared(value: float, error: float, reference: float, what: str) -> Figure:
    """A difference or ratio whose note says whether it departs from ``reference`` (0 or 1)."""
    if not math.isfinite(error) or error <= 0:
        return Figure(value, None, f"{what}: no error estimate")
    pulls = abs(value - reference) / error
    verdict = (
        f"significant ({pulls:.1f}σ)"
        if pulls >= SIGNIFICANT
        else f"NOT significant ({pulls:.1f}σ < {SIGNIFICANT:g}σ): sample too small to rank"
    )
    return Figure(value, error, f"{what}: {verdict}")
