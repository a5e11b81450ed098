"""Figures in the HEP style (mplhep), saved as PNG and PDF, written atomically."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on batch nodes

import matplotlib.pyplot as plt
import mplhep

from heplearn.data.atomic import atomic_output

__all__ = ["figure", "save_figure"]


@contextmanager
def figure(**subplots: Any) -> Iterator[tuple[Any, Any]]:
    """A (figure, axes) pair in the mplhep style, closed on exit."""
    with plt.style.context(mplhep.style.ROOT):
        fig, axes = plt.subplots(**subplots)
        try:
            yield fig, axes
        finally:
            plt.close(fig)


def save_figure(fig: Any, folder: Path, name: str, label: str = "Simulation") -> Path:
    """Save ``fig`` as ``name.png`` and ``name.pdf`` in ``folder``; return the PNG path."""
    if len(fig.axes) == 1:  # panels carry their own titles; the label would collide with them
        mplhep.label.exp_label(
            exp="heplearn", llabel=label, rlabel="", ax=fig.axes[0], loc=0, fontsize=14
        )
    fig.tight_layout()
    for suffix in ("png", "pdf"):
        with atomic_output(folder / f"{name}.{suffix}", overwrite=True) as tmp:
            fig.savefig(tmp, format=suffix, dpi=110)
    return folder / f"{name}.png"
