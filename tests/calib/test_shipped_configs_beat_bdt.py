"""Slow: each shipped calibration training config, trained briefly on a small gun sample,
gives a network that beats its BDT on held-out Z→ee clusters (eIQR of E_pred/E_true).

The margin must be significant: the eIQR difference plus two bootstrap errors stays below
zero.  Sizes and epochs are overridden to keep this to minutes on a CPU; what each config
measured is in the ``MEASURED`` notes (2-core machine, ``-m slow -s`` prints them).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from heplearn.calib.evaluate import evaluate_run
from heplearn.calib.resolution_metrics import bootstrap, eiqr
from heplearn.calib.train import train_calib
from heplearn.calib.train_config import CalibTrainConfig
from heplearn.config import load_config, parse_config
from heplearn.generate import CalibSampleConfig, calib_dataset

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

TRAIN = Path(__file__).parents[2] / "configs" / "calib" / "train"

#: Per sample: its geometry, the gun sample (training) and the Z→ee sample (evaluation).
SAMPLES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "atlas-lar": (
        "atlas-lar",
        {
            "gun": {"particles": ["electron", "positron", "photon"], "pt_range": [5.0, 300.0]},
            "events": 20_000,
            "mu": 20.0,
            "pool_events": 50,
        },
        {"events": 5000, "mu": 20.0, "pool_events": 50},
    ),
    "cms-ecal": (
        "cms-ecal",
        {
            "gun": {
                "particles": ["electron", "positron"],
                "pt_range": [5.0, 100.0],
                "pt_spectrum": "uniform",
                "eta_range": [-1.479, 1.479],
            },
            "events": 24_000,
            "mu": 0.0,
        },
        {"events": 10_000, "mu": 0.0},
    ),
    # The thesis network's scale: 200k guns, as a GPU trains in minutes (16 cores generate them).
    "atlas-lar-large": (
        "atlas-lar",
        {
            "gun": {"particles": ["electron", "positron", "photon"], "pt_range": [5.0, 300.0]},
            "events": 200_000,
            "mu": 20.0,
            "pool_events": 200,
        },
        {"events": 20_000, "mu": 20.0, "pool_events": 200},
    ),
}

#: Shipped config → (sample, epochs for this test).
CONFIGS = {
    "tiny": ("atlas-lar", 12),
    "cms-scouting": ("cms-ecal", 12),
    "thesis": ("atlas-lar-large", 20),
    "thesis-sigma": ("atlas-lar-large", 20),
    "reference-cpu": ("atlas-lar-large", 8),
}

#: Measured on this sample (2-core CPU, shared): BDT − network eIQR, and the training time.
#: The whole file ran in 2 min 15 s.
MEASURED = {
    "tiny": "+0.0060 ± 0.0005 (network 0.0275, BDT 0.0335: +18 %) with the charge-symmetric "
    "default; raw charge-odd inputs +0.0053 ± 0.0006 (network 0.0291, BDT 0.0344: +15 %)",
    "cms-scouting": "+0.0026 ± 0.0006 (network 0.0298, BDT 0.0324: +8 %; 12k guns: −5.5 %)",
}

#: The 2.2M-parameter thesis network needs more than a CPU-minutes sample: with thesis.yaml's
#: settings on the 20k atlas-lar guns it lost to the BDT after 6 epochs at lr 0.003
#: (−0.0024 ± 0.0008) and 8 epochs at lr 0.001 (−0.0012 ± 0.0007), 7–12 min each.  The β-NLL
#: thesis network (reference-cpu.yaml) beats the BDT by 36 % at the reference run's 400k guns
#: (docs/calib.md, 57 min on 2 cores).  So these run at 200k guns, where a GPU takes minutes
#: and CI's CPU would take hours: marked ``gpu``, skipped with the reason without CUDA.
THESIS_NETWORK = pytest.mark.gpu


def test_every_shipped_config_is_covered() -> None:
    assert {p.stem for p in TRAIN.glob("*.yaml")} == set(CONFIGS)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[Path, Path]]:
    """A sample's gun and Z→ee stores, made on first use."""
    made: dict[str, tuple[Path, Path]] = {}

    def get(sample: str) -> tuple[Path, Path]:
        if sample not in made:
            root = tmp_path_factory.mktemp(sample)
            geometry, gun, zee = SAMPLES[sample]
            paths = [
                calib_dataset(
                    parse_config(
                        CalibSampleConfig,
                        {"source": source, "geometry": geometry, "seed": seed}
                        | {"shard_events": 4000, **settings},
                    ),
                    root / source,
                    workers=max(1, min(8, (os.cpu_count() or 1) // 2)),
                )
                for source, settings, seed in (("gun", gun, 11), ("zee", zee, 13))
            ]
            made[sample] = (paths[0], paths[1])
        return made[sample]

    return get


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=THESIS_NETWORK) if name not in MEASURED else name
        for name in CONFIGS
    ],
)
def test_shipped_config_beats_the_bdt_on_zee(
    name: str, stores: Callable[[str], tuple[Path, Path]], tmp_path: Path
) -> None:
    sample, epochs = CONFIGS[name]
    gun, zee = stores(sample)
    config = load_config(CalibTrainConfig, TRAIN / f"{name}.yaml")
    config = dataclasses.replace(config, trainer=dataclasses.replace(config.trainer, epochs=epochs))
    run = tmp_path / name
    train_calib(config, gun, run)
    evaluation = evaluate_run(run, zee, n_boot=2, importance=False)
    truth = evaluation.features.e_truth
    energies = evaluation.energies.methods()
    network, bdt = energies["network"] / truth, energies["bdt"] / truth
    gain, error = bootstrap(lambda a, b: eiqr(b) - eiqr(a), network, bdt, n=200)
    widths = f"eIQR network {eiqr(network):.4f}, BDT {eiqr(bdt):.4f}"
    print(f"\n{name}: {widths}, BDT − network {gain:+.4f} ± {error:.4f}")
    assert gain - 2 * error > 0, f"{name}: the network does not beat the BDT significantly"
