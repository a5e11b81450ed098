"""The learning curve of a torch model: training and validation loss per epoch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from heplearn.report.figures import figure, save_figure

__all__ = ["plot_learning_curve"]


def plot_learning_curve(
    history: Sequence[Mapping[str, Any]], folder: Path, name: str = "learning_curve"
) -> Path | None:
    """Plot ``metrics.jsonl`` rows (epoch, train_loss, val_loss); None when there are none."""
    if not history:
        return None
    with figure() as (fig, ax):
        epochs = [row["epoch"] for row in history]
        ax.plot(epochs, [row["train_loss"] for row in history], "o-", label="train")
        ax.plot(epochs, [row["val_loss"] for row in history], "s-", label="validation")
        losses = [row[k] for row in history for k in ("train_loss", "val_loss")]
        if min(losses) > 0:  # NLL losses go negative: those stay on a linear axis
            ax.set_yscale("log")
        ax.set_xlabel("Epoch")
        ax.set_ylabel("Loss")
        ax.legend()
        return save_figure(fig, folder, name)
