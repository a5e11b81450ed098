"""What a calibration model is fed: the shapes of its three inputs (images, scalars, tracks)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["InputShapes"]


@dataclass(frozen=True)
class InputShapes:
    """Per-sample shapes: images (channels, η, φ), number of scalars, tracks (count, features).

    A model is called as ``model(images, scalars, tracks)`` with tensors of shape
    (N, *image), (N, scalars) and (N, *tracks); an input of size 0 (no scalars, no tracks)
    is passed as an empty tensor and must be ignored by the model.
    """

    image: tuple[int, int, int]
    scalars: int
    tracks: tuple[int, int]
