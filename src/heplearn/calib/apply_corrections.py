"""``calib correct``: apply a corrections file to a store — the scale to data, smearing to MC.

Data: E_corr = E / (1 + α_i) (α_i the fitted shift E_data = (1 + α_i)·E_MC).
MC: E_corr = E · (1 + c_i·g), g ~ N(0, 1) drawn from ``seed`` (one per cluster, in
store order), so the MC resolution matches the data's.  i is the bin of the cluster
|η| (``scalars/eta``).  Clusters with E ≤ 0 (not reconstructed) keep their energy.
The output is a new store: every field of the input plus ``corrected/energy`` and
``corrected/raw_energy`` (the method's energy before the correction).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from heplearn.calib.corrections_file import Corrections, read_corrections
from heplearn.calib.method_energies import method_energies
from heplearn.data.reader import Store, open_store
from heplearn.data.writer import StoreWriter
from heplearn.errors import DataError

__all__ = ["apply_to_energies", "correct_store"]

Array = np.ndarray[Any, Any]

_BATCH = 8192
#: A reconstructed |η| may leave the acceptance by about a cell; those use the edge bins.
_EDGE_TOLERANCE = 0.05


def _check_coverage(corrections: Corrections, abs_eta: Array, found: Array, where: str) -> None:
    lo, hi = float(corrections.edges[0]), float(corrections.edges[-1])
    outside = found & ((abs_eta < lo - _EDGE_TOLERANCE) | (abs_eta >= hi + _EDGE_TOLERANCE))
    if outside.any():
        raise DataError(
            "corrections for other |η| bins than the data",
            where,
            f"the corrections cover |η| {lo:g}–{hi:g} but {int(outside.sum())} clusters lie "
            f"outside (up to |η| = {float(abs_eta[found].max()):.3g})",
            "fit corrections on bins that cover the data (calib scale-fit --eta-edges)",
        )


def apply_to_energies(
    corrections: Corrections, energy: Array, abs_eta: Array, *, mc: bool, seed: int, where: str
) -> Array:
    """The corrected energies: E/(1 + α_i) for data, E·(1 + c_i g) for MC."""
    found = energy > 0
    _check_coverage(corrections, abs_eta, found, where)
    bins = np.clip(corrections.bins(abs_eta), 0, len(corrections.alpha) - 1)
    if not mc:
        return np.where(found, energy / (1.0 + corrections.alpha[bins]), energy)
    if corrections.c is None:
        raise DataError(
            "no smearing in the corrections",
            where,
            "they were fitted without --mc, so there is no extra constant term for MC",
            "refit with 'calib scale-fit --mc MC', or correct data with --data",
        )
    g = np.random.default_rng(seed).standard_normal(len(energy))
    return np.where(found, energy * (1.0 + corrections.c[bins] * g), energy)


def _method(corrections: Corrections) -> str:
    method = corrections.summary.get("method", "e_acc")
    return method if isinstance(method, str) else "e_acc"


def correct_store(
    corrections_path: Path,
    source: Path,
    out: Path,
    *,
    mc: bool,
    run: Path | None = None,
    seed: int = 1,
    overwrite: bool = False,
) -> tuple[Path, Array, Array]:
    """Write ``out`` (one store file); returns it with the energies before and after."""
    corrections = read_corrections(corrections_path)
    store: Store = open_store(source)
    where = str(store.path)
    if "scalars/eta" not in store.schema:
        raise DataError(
            "missing field scalars/eta",
            where,
            "the corrections are binned in the cluster |η|",
            "map it with 'heplearn data import --mapping'",
        )
    raw = method_energies(store, _method(corrections), run, where)
    abs_eta = np.abs(np.asarray(store.read(["scalars/eta"])["scalars/eta"], dtype=np.float64))
    corrected = apply_to_energies(corrections, raw, abs_eta, mc=mc, seed=seed, where=where)
    provenance = {
        **store.provenance,
        "corrected_by": {
            "corrections": str(corrections_path),
            "applied": "smearing (MC)" if mc else "scale (data)",
            "method": _method(corrections),
            "seed": seed if mc else None,
        },
    }
    with StoreWriter(out, provenance=provenance, overwrite=overwrite) as writer:
        start = 0
        for batch in store.iter_batches(_BATCH):
            rows = slice(start, start + len(batch["scalars/eta"]))
            columns = dict(batch)
            columns["corrected/energy"] = corrected[rows].astype(np.float32)
            columns["corrected/raw_energy"] = raw[rows].astype(np.float32)
            writer.append(columns)
            start = rows.stop
    return out, raw, corrected
