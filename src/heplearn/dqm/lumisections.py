"""Which CMS run and lumisection a watched map belongs to, from its names.

- **run**: ``--cms-run N`` when given; else the first ``run<N>`` / ``run_<N>`` /
  ``_R<N>`` in the file name (CMS DQM files are named ``DQM_V0001_R000355100__…``);
  else the same in the map's name; else unknown (the file is recorded ``unreadable``).
- **lumisection**: the last ``ls<N>`` / ``lumi<N>`` / ``lumisection<N>`` (``_`` or
  ``-`` allowed before N, leading zeros ignored) in the map's name (the TH2 name);
  else, in the file name, plus the map's index in the file (a file ``…_ls0010.h5``
  holding 3 maps gives 10, 11, 12); else the run's next number in the history.
"""

from __future__ import annotations

import re

__all__ = ["lumisection_from_name", "run_from_name"]

_RUN = re.compile(r"(?:run[_-]?|_R)0*(\d+)", re.IGNORECASE)
# Not preceded by a letter, so "tools3" or "pulls_2" never read as lumisections.
_LUMISECTION = re.compile(r"(?<![a-z])(?:lumisection|lumi|ls)[_-]?0*(\d+)", re.IGNORECASE)


def run_from_name(name: str) -> int | None:
    """The run number written in ``name`` (first match), or None."""
    found = _RUN.search(name)
    return int(found.group(1)) if found else None


def lumisection_from_name(name: str) -> int | None:
    """The lumisection written in ``name`` (last match), or None."""
    found = _LUMISECTION.findall(name)
    return int(found[-1]) if found else None
