"""Small labelled Poisson maps with 5×5 dead/hot regions, shared by the network model tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from heplearn.dqm.maps import MapSet

SHAPE = (16, 24, 2)
DEAD, HOT = 1, 2


def make_maps(
    n: int, seed: int, classes: tuple[int, ...], shape: tuple[int, ...] = SHAPE
) -> MapSet:
    """Poisson maps (16–72 hits/channel) with one 5×5 dead (×0) or hot (×8) region per bad map."""
    rate = np.random.default_rng(0).uniform(0.02, 0.06, shape)  # same detector for every call
    rate[0, 0, :] = 0.0  # a channel that never fires: masked by the reference
    rng = np.random.default_rng(seed)
    events = rng.uniform(800, 1200, n)
    label = rng.choice(classes, n)
    factor = np.ones((n, *shape))
    truth = np.zeros((n, *shape), np.uint8)
    for i in np.flatnonzero(label):
        r, c = rng.integers(1, shape[0] - 5), rng.integers(1, shape[1] - 5)
        factor[i, r : r + 5, c : c + 5] = 0.0 if label[i] == DEAD else 8.0
        truth[i, r : r + 5, c : c + 5] = label[i]
    counts = rng.poisson(rate * events[:, None, None, None] * factor).astype(np.float32)
    return MapSet(
        counts, events.astype(np.float32), label.astype(np.int8), truth, [str(i) for i in range(n)]
    )


def trainer(epochs: int) -> dict[str, Any]:
    """Trainer settings of a short CPU training (no early stopping)."""
    return {"epochs": epochs, "batch_size": 32, "lr_max": 0.01, "device": "cpu", "patience": 0}
