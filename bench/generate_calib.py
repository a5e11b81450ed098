"""End-to-end calibration-sample generation: Pythia Z→ee, ⟨μ⟩ = 40 pileup, ATLAS-like fast
simulation, written to the sharded store in shards of 2,500 events (as atlas-zee.yaml).
Events/s on 1 and 2 worker processes, the scaling ratio, and the one-off cost of the
minimum-bias pool (generated once per worker process).

    python bench/generate_calib.py [--events 20000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from heplearn.config import parse_config
from heplearn.generate.calib import CalibSampleConfig, calib_dataset
from heplearn.generate.pileup_pool import minbias_pool


def run(events: int, workers: int, folder: Path) -> float:
    config = parse_config(
        CalibSampleConfig,
        {"source": "zee", "events": events, "shard_events": 2500, "mu": 40.0, "pool_events": 400},
    )
    start = time.perf_counter()
    calib_dataset(config, folder / f"zee-{workers}", workers=workers)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    start = time.perf_counter()
    minbias_pool(400, 1, 13_600.0)
    pool_seconds = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        # One worker runs in this process, where the pool is now cached; two workers each
        # generate the pool once, so their time includes it.
        one = run(args.events, 1, Path(tmp))
        two = run(args.events, 2, Path(tmp))
    result = {
        "events": args.events,
        "pool_generation_s": round(pool_seconds, 2),
        "events_per_s_1_worker_pool_cached": round(args.events / one),
        "events_per_s_2_workers_including_pool": round(args.events / two),
        "events_per_s_2_workers_excluding_pool": round(args.events / max(two - pool_seconds, 1e-9)),
        "scaling_2_vs_1_excluding_pool": round(one / max(two - pool_seconds, 1e-9), 2),
        "goals": {"scaling": 1.8, "events_per_s_2_cores": 1000},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
