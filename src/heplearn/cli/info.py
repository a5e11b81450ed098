"""``heplearn info``: versions, compute device, threads, and where outputs go."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from rich.console import Console
from rich.table import Table

from heplearn import __version__
from heplearn.data.provenance import package_version

__all__ = ["environment", "info"]


def environment() -> dict[str, str]:
    """What a bug report or a batch log needs: versions, device, threads, output folders."""
    import torch

    if torch.cuda.is_available():
        device = f"cuda ({torch.cuda.get_device_name(0)}, {torch.cuda.device_count()} device(s))"
    else:
        device = "cpu"
    return {
        "heplearn": __version__,
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "platform": platform.platform(),
        "torch": torch.__version__,
        "pythia8mc": package_version("pythia8mc"),
        "numpy": package_version("numpy"),
        "h5py": package_version("h5py"),
        "uproot": package_version("uproot"),
        "awkward": package_version("awkward"),
        "device": device,
        "threads": f"torch {torch.get_num_threads()}, cpus {os.cpu_count()}",
        "working directory": str(Path.cwd()),
    }


def info() -> None:
    """Print versions of heplearn and its engines, the compute device and thread counts."""
    table = Table(title="heplearn environment", show_header=False)
    for key, value in environment().items():
        table.add_row(key, value)
    Console().print(table)
