"""Provenance recorded in every store: what made it, with which versions, when, from which seed."""

from __future__ import annotations

import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

from heplearn import __version__

__all__ = ["package_version", "provenance"]


def package_version(name: str) -> str:
    """Installed version of a distribution, or ``'not installed'``."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def provenance(config: str | None = None, seed: int | None = None, **extra: Any) -> dict[str, Any]:
    """A JSON-able record of how a store was made; ``config`` is the resolved YAML text."""
    record: dict[str, Any] = {
        "heplearn": __version__,
        "python": platform.python_version(),
        "numpy": package_version("numpy"),
        "h5py": package_version("h5py"),
        "uproot": package_version("uproot"),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
    }
    if config is not None:
        record["config"] = config
    if seed is not None:
        record["seed"] = seed
    record.update(extra)
    return record
