"""Cluster energies of one method (E_acc, the BDT or the network) for a store without truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from heplearn.data.reader import Store
from heplearn.errors import ConfigError, DataError

__all__ = ["METHODS", "check_same_geometry", "geometry_name", "method_energies"]

Array = np.ndarray[Any, Any]

METHODS = ("e_acc", "bdt", "network")


def method_energies(store: Store, method: str, run: Path | None, where: str) -> Array:
    """E [GeV] per cluster; ``e_acc`` reads ``scalars/e_acc``, the others need ``run``."""
    if method not in METHODS:
        raise ConfigError(
            f"unknown method '{method}'",
            "option --method",
            f"the methods are {', '.join(METHODS)}",
            "use e_acc, bdt or network",
        )
    if method == "e_acc":
        if "scalars/e_acc" not in store.schema:
            raise DataError(
                "missing field scalars/e_acc",
                where,
                "the e_acc method reads the cluster energy E_acc",
                "map it with 'heplearn data import --mapping'",
            )
        return np.asarray(store.read(["scalars/e_acc"])["scalars/e_acc"], dtype=np.float64)
    if run is None:
        raise ConfigError(
            f"method '{method}' needs a trained run",
            "option --run",
            "only e_acc needs no model",
            "give --run RUN (from 'heplearn calib train') or use --method e_acc",
        )
    from heplearn.calib.calibrated import CalibRun
    from heplearn.calib.features import load_features

    calib_run = CalibRun.load(run)
    if not calib_run.has(method):
        raise ConfigError(
            f"the run has no {method}",
            str(run),
            f"it was trained without a {method}",
            "use a run that has it, or another --method",
        )
    features = load_features(store, calib_run.config.features, where, require_truth=False)
    calib_run.check_inputs(features, where)
    return calib_run.energy(features, method)


def geometry_name(store: Store) -> str | None:
    text = store.provenance.get("config")
    try:
        config = yaml.safe_load(text) if isinstance(text, str) else None
    except yaml.YAMLError:
        return None  # an imported store's provenance may hold anything
    name = config.get("geometry") if isinstance(config, dict) else None
    return name if isinstance(name, str) else None


def check_same_geometry(data: Store, mc: Store) -> None:
    """Refuse an MC store simulated with another geometry than the data (where both say)."""
    ours, theirs = geometry_name(data), geometry_name(mc)
    if ours is not None and theirs is not None and Path(ours).stem != Path(theirs).stem:
        raise DataError(
            f"MC geometry '{theirs}' differs from the data's '{ours}'",
            str(mc.path),
            "a data/MC scale compares the same detector",
            "give --mc a store simulated with the data's geometry",
        )
