"""False-alarm control of ``qtest`` (thresholds: model) from few reference maps.

    python bench/dqm_false_alarm.py [--refs 5 10 50] [--good 1000] [--faulty 200]

On ECAL-barrel-like maps (170 × 360; tower- and supermodule-correlated gains,
over-dispersion, falling luminosity, no event count — ``tests/dqm/ecal_like.py``):
for each number of reference maps, the realised false-alarm rate on ``--good`` good
maps at a 1 % target (with its 1σ binomial interval), the leave-one-out estimate the
model reports, and the detection rate of each fault (missing supermodule, dead/hot
trigger tower, dead/hot crystal) on ``--faulty`` maps each.  Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

# The map generator is shared with the tests that assert these figures.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "dqm"))
from ecal_like import FAULTS, as_mapset, good_maps, inject

from heplearn.dqm.dispersion import fit_dispersion
from heplearn.dqm.groups import resolve_geometry
from heplearn.dqm.look_elsewhere import leave_one_out, max_significance, sidak_z
from heplearn.stats.binomial import clopper_pearson

TARGET = 0.01


def _rate(model: Any, counts: np.ndarray, z_star: float) -> tuple[float, list[float]]:
    flagged = 0
    for start in range(0, len(counts), 100):
        worst, _, _ = max_significance(model, as_mapset(counts[start : start + 100]))
        flagged += int((worst > z_star).sum())
    low, high = clopper_pearson(flagged, len(counts))
    return flagged / len(counts), [float(low), float(high)]


def measure(n_refs: int, n_good: int, n_faulty: int) -> dict[str, Any]:
    grouping = resolve_geometry("ecal-barrel", (170, 360, 1))
    reference, _ = good_maps(n_refs, seed=1)
    model = fit_dispersion(as_mapset(reference), grouping)
    z_star = sidak_z(TARGET, model.n_tests())
    good = np.concatenate([good_maps(100, seed=1000 + i)[0] for i in range(n_good // 100)])
    rate, interval = _rate(model, good, z_star)
    calibration = leave_one_out(as_mapset(reference), grouping, TARGET)
    counts, expected = good_maps(n_faulty, seed=7)
    rng = np.random.default_rng(9)
    found = {}
    for fault in FAULTS:
        bad = np.stack([inject(counts[i], expected[i], fault, rng)[0] for i in range(n_faulty)])
        found[fault] = _rate(model, bad, z_star)[0]
    return {
        "reference_maps": n_refs,
        "z_star": z_star,
        "false_alarm": rate,
        "false_alarm_interval": interval,
        "leave_one_out_estimate": calibration["realised"],
        "leave_one_out_agrees": calibration["agrees"],
        "found": found,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refs", type=int, nargs="+", default=[5, 10, 50])
    parser.add_argument("--good", type=int, default=1000)
    parser.add_argument("--faulty", type=int, default=200)
    args = parser.parse_args()
    table = [measure(k, args.good, args.faulty) for k in args.refs]
    print(json.dumps({"target": TARGET, "good_maps": args.good, "table": table}, indent=1))


if __name__ == "__main__":
    main()
