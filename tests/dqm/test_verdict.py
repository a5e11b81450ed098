"""Map verdicts from flagged channels, and the JSON records of 'dqm check'."""

from __future__ import annotations

import json

import numpy as np

from heplearn.dqm.labels import CLASS_NAMES
from heplearn.dqm.verdict import NO_STATISTICS, map_verdict, verdict_from_channels


def one_map(values: dict[tuple[int, int], float]) -> tuple[np.ndarray, np.ndarray]:
    norm = np.ones((1, 6, 6, 1), np.float32)
    flags = np.zeros((1, 6, 6, 1), bool)
    for (r, c), v in values.items():
        norm[0, r, c, 0] = v
        flags[0, r, c, 0] = True
    return norm, flags


def classify(values: dict[tuple[int, int], float]) -> str:
    return CLASS_NAMES[int(verdict_from_channels(*one_map(values))[0])]


def test_the_deviation_sign_decides_the_class() -> None:
    assert classify({}) == "good"
    assert classify({(1, 1): 0.0}) == "dead"
    assert classify({(1, 1): 0.0, (1, 2): 0.02, (2, 2): 0.05}) == "dead"
    assert classify({(1, 1): 0.4, (1, 2): 0.6}) == "partial"
    assert classify({(3, 3): 8.0}) == "hot"
    assert classify({(3, 3): 1.7, (3, 4): 0.3, (4, 3): 1.9, (4, 4): 0.2}) == "noisy"
    # One low channel among many hot ones is still a hot region, not noise.
    assert classify({(0, i): 5.0 for i in range(6)} | {(1, 0): 0.5}) == "hot"


def test_unflagged_deviations_do_not_count() -> None:
    norm, flags = one_map({(2, 2): 0.0})
    norm[0, 4, 4, 0] = 50.0  # not flagged by the model: ignored
    assert verdict_from_channels(norm, flags).tolist() == [CLASS_NAMES.index("dead")]


def test_records_for_2d_3d_and_empty_maps() -> None:
    flags = np.zeros((3, 4, 5, 1), bool)
    flags[0, 1, 3, 0] = True
    flags[2, 0, 0, 0] = True  # an empty map never reports channels
    records = map_verdict(
        ["h_a", "h_b", "h_c"],
        np.array([1, 0, 1]),
        np.array([7.5, 0.1, 3.0]),
        flags,
        np.array([False, False, True]),
    )
    assert records == [
        {"map": "h_a", "verdict": "dead", "score": 7.5, "flagged": [[1, 3]]},
        {"map": "h_b", "verdict": "good", "score": 0.1, "flagged": []},
        {"map": "h_c", "verdict": NO_STATISTICS, "score": 0.0, "flagged": []},
    ]
    json.dumps(records)  # plain JSON types only
    deep = np.zeros((1, 4, 5, 3), bool)
    deep[0, 2, 1, 2] = True
    record = map_verdict(["0"], np.array([2]), np.array([1.0]), deep, np.array([False]))[0]
    assert record["flagged"] == [[2, 1, 2]] and record["verdict"] == "hot"
