"""The data-driven part of ``heplearn demo``: pseudo-data with a known shift → scale-fit →
correct → closure, on Z→ee made with the shipped ``zee-pseudo-data.yaml`` and ``zee-mc.yaml``
(fewer events: the demo shows the chain and its errors, the docs quote the full-size figures).
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

from heplearn.calib.apply_corrections import correct_store
from heplearn.calib.closure import write_closure
from heplearn.calib.data_scale_fit import SkippedCategoryWarning, fit_scale
from heplearn.config import load_config, shipped_config
from heplearn.data.atomic import write_text_atomically
from heplearn.generate.calib import CalibSampleConfig, calib_dataset
from heplearn.report.summary import SIGNIFICANT, Figure

__all__ = ["data_driven_demo"]

#: (pseudo-data, MC) Z→ee events: the MC twice the data, as the shipped configs have it.
EVENTS = {True: (6_000, 12_000), False: (30_000, 60_000)}


def _sample(name: str, events: int, seed: int) -> CalibSampleConfig:
    config = load_config(CalibSampleConfig, shipped_config(f"calib/{name}.yaml"))
    shard = min(config.shard_events, events)
    return dataclasses.replace(config, events=events, shard_events=shard, seed=config.seed + seed)


def data_driven_demo(
    out: Path, *, quick: bool, seed: int, overwrite: bool, progress: bool
) -> dict[str, Figure]:
    """Recover the pseudo-data's |η| scale shifts and close the Z peak on the MC's."""
    n_data, n_mc = EVENTS[quick]
    shifted = _sample("zee-pseudo-data", n_data, seed)
    workers = 1 if quick else 2
    data, mc = (
        calib_dataset(config, out / name, workers=workers, overwrite=overwrite, progress=progress)
        for config, name in (
            (shifted, "zee-pseudo-data"),
            (_sample("zee-mc", n_mc, seed), "zee-mc"),
        )
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkippedCategoryWarning)
        result = fit_scale(data, mc=mc, method="e_acc")
    skipped = [str(w.message) for w in caught if issubclass(w.category, SkippedCategoryWarning)]
    corrections = write_text_atomically(out / "corrections.json", result.to_json(), overwrite=True)
    smeared, *_ = correct_store(corrections, mc, out / "zee-mc-smeared.h5", mc=True, overwrite=True)
    corrected, *_ = correct_store(
        corrections, data, out / "zee-pseudo-data-corrected.h5", mc=False, overwrite=True
    )
    write_closure(corrected, smeared, out / "calib-closure", overwrite=True)
    closure = json.loads((out / "calib-closure" / "closure.json").read_text())
    shift = shifted.detector_shift
    assert shift is not None  # the shipped pseudo-data config has one
    edges = result.edges
    figures: dict[str, Figure] = {"Z→ee pseudo-data events": Figure(float(n_data))}
    for i, (set_alpha, value, error) in enumerate(
        zip(shift.alpha, result.scale.values, result.scale.errors, strict=True)
    ):
        pull = (value - set_alpha) / error if error > 0 else float("nan")
        figures[f"α(|η| {edges[i]:g}–{edges[i + 1]:g}) [%]"] = Figure(
            100 * value, 100 * error, f"scale-fit; set {100 * set_alpha:+.2f} %: {pull:+.1f}σ off"
        )
    closure_pull = closure["mu_after_minus_mc_percent"] / closure["mu_after_minus_mc_err_percent"]
    verdict = "closes" if abs(closure_pull) < SIGNIFICANT else "does NOT close"
    figures["Z peak: data − MC after [%]"] = Figure(
        closure["mu_after_minus_mc_percent"],
        closure["mu_after_minus_mc_err_percent"],
        f"μ_CB; correct {verdict} ({closure_pull:+.1f}σ)"
        + "".join(f"; {text}" for text in skipped),
    )
    return figures
