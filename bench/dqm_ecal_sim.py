"""False-alarm control of ``qtest`` on the ``generate dqm`` ECAL-barrel simulation.

    heplearn generate dqm --config configs/dqm/ecal-barrel.yaml --out ecal
    python bench/dqm_ecal_sim.py ecal [--refs 5 10 50] [--reference runs:3|first|spread]

Reference maps are good lumisections chosen by ``--reference``:

- ``runs:R`` (default ``runs:3``): drawn at random from the first R runs; tested on the
  other runs — what a shifter does with a reference made of a few recent good runs;
- ``spread``: drawn at random from the first run; tested on the other runs;
- ``first``: the first K good lumisections of the first run (luminosity within a few %);
  tested on the other runs, down to a third of that luminosity (an extrapolation).

For each K: the realised false-alarm rate on the good test maps at a 1 % target (with its
1σ interval), with and without the simulation's good-but-noisy towers (labelled good,
``labels/noisy_tower``), which test raised it (crystal, tower, supermodule), the fault
detection rates, and for single-crystal faults the detection rate in bins of the
crystal's expected count λ: a dead crystal reads 0 with Poisson probability e^−λ, so no
test at the per-test level p* can find one with λ < −ln p* (≈ 15.6 at 61,200 crystals).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
from typing import Any

import numpy as np

from heplearn.data import open_store
from heplearn.dqm.dispersion import fit_dispersion
from heplearn.dqm.groups import resolve_geometry
from heplearn.dqm.look_elsewhere import max_significance, sidak_z
from heplearn.dqm.maps import MapSet
from heplearn.stats.binomial import clopper_pearson

TARGET = 0.01
FIELDS = [
    "maps/occupancy", "event/run", "labels/map_class", "labels/fault_shape",
    "labels/channels", "labels/noisy_tower",
]  # fmt: skip
#: (name, map_class, fault_shape) as the ECAL sample labels them.
FAULTS = [
    ("missing_supermodule", 1, 6), ("dead_tower", 1, 5), ("hot_tower", 2, 5),
    ("dead_crystal", 1, 1), ("hot_crystal", 2, 1),
]  # fmt: skip
LAMBDA_BINS = [0.0, 10.0, 16.0, 25.0, 50.0, math.inf]


def choose_reference(columns: dict[str, Any], k: int, how: str) -> tuple[Any, Any]:
    """(reference indices, runs whose maps are tested)."""
    run, good = columns["event/run"], columns["labels/map_class"] == 0
    runs = np.unique(run)
    n_runs = int(how.split(":")[1]) if how.startswith("runs:") else 1
    pool = np.flatnonzero(good & np.isin(run, runs[:n_runs]))
    if how == "first":
        return pool[:k], runs[n_runs:]
    return np.sort(np.random.default_rng(0).choice(pool, k, replace=False)), runs[n_runs:]


def measure(columns: dict[str, Any], k: int, how: str) -> dict[str, Any]:
    counts = columns["maps/occupancy"]
    grouping = resolve_geometry("ecal-barrel", counts.shape[1:])
    levels = np.array(grouping.levels)
    ref, tested_runs = choose_reference(columns, k, how)
    model = fit_dispersion(MapSet.from_counts(counts[ref]), grouping)
    z_star = sidak_z(TARGET, model.n_tests())
    test = np.flatnonzero(np.isin(columns["event/run"], tested_runs))
    flagged, by_test = np.zeros(len(counts), bool), np.zeros((len(counts), 3), bool)
    expected_at = np.full(len(counts), np.nan)
    for start in range(0, len(test), 100):
        idx = test[start : start + 100]
        maps = MapSet.from_counts(counts[idx])
        worst, cz, gz = max_significance(model, maps)
        flagged[idx] = worst > z_star
        by_test[idx, 0] = np.abs(cz).max(axis=1) > z_star
        for j, level in enumerate(("tower", "supermodule")):
            by_test[idx, j + 1] = (np.abs(gz[:, levels == level]) > z_star).any(axis=1)
        mean = model.expected(model.luminosity(maps))
        single = np.flatnonzero(columns["labels/fault_shape"][idx] == 1)
        for j in single:
            channel = np.argmax(columns["labels/channels"][idx[j]].reshape(-1))
            expected_at[idx[j]] = mean[j, channel]
    cls, shape = columns["labels/map_class"], columns["labels/fault_shape"]
    good = test[cls[test] == 0]
    quiet = good[columns["labels/noisy_tower"][good] < 0]
    out: dict[str, Any] = {"reference_maps": k, "z_star": z_star, "good_maps": len(good)}
    for name, sample in (("false_alarm", good), ("false_alarm_without_noisy_towers", quiet)):
        hits = int(flagged[sample].sum())
        out[name] = hits / len(sample)
        out[name + "_interval"] = [float(v) for v in clopper_pearson(hits, len(sample))]
    out["false_alarms_raised_by"] = dict(
        zip(("crystal", "tower", "supermodule"), map(int, by_test[quiet].sum(axis=0)), strict=True)
    )
    found: dict[str, Any] = {}
    for name, map_class, fault_shape in FAULTS:
        sample = test[(cls[test] == map_class) & (shape[test] == fault_shape)]
        found[name] = {"rate": float(flagged[sample].mean()), "maps": len(sample)}
        if fault_shape == 1:
            lam = expected_at[sample]
            found[name]["by_expected_count"] = {
                f"{lo:g}-{hi:g}": [float(flagged[sample][sel].mean()), int(sel.sum())]
                for lo, hi in itertools.pairwise(LAMBDA_BINS)
                if (sel := (lam >= lo) & (lam < hi)).any()
            }
    out["found"] = found
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("--refs", type=int, nargs="+", default=[5, 10, 50])
    parser.add_argument("--reference", default="runs:3")
    args = parser.parse_args()
    columns = open_store(args.store).read(FIELDS)
    columns["maps/occupancy"] = np.asarray(columns["maps/occupancy"], np.float32)
    table = [measure(columns, k, args.reference) for k in args.refs]
    print(json.dumps({"target": TARGET, "reference": args.reference, "table": table}, indent=1))


if __name__ == "__main__":
    main()
