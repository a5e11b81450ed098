"""Certification: the CMS-style good-lumisection JSON from the history and shifters' overrides.

A lumisection is good when its latest verdict in the history is ``good``; every other
verdict (a fault, ``unreadable``, ``no-statistics``) is not.  Overrides
(``RUN:LS=good|bad`` or ``RUN:FIRST-LAST=good|bad``) are applied after the verdicts,
in the order they were recorded, so the latest decision on a lumisection wins; a
``good`` override certifies a lumisection even when no map of it was checked.

The output is ``{"RUN": [[first_ls, last_ls], ...], ...}``: runs as string keys in
increasing order, each with its good lumisections merged into sorted, inclusive,
non-overlapping ranges; runs without a good lumisection are left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from heplearn.dqm.history import History
from heplearn.errors import ConfigError

__all__ = [
    "MAX_RANGE",
    "Override",
    "apply_overrides",
    "golden_json",
    "good_lumisections",
    "merge_ranges",
    "parse_override",
]

#: The most lumisections one override may cover (a run has a few thousand).
MAX_RANGE = 100_000
_OVERRIDE = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*(?:-\s*(\d+)\s*)?=\s*(good|bad)\s*$", re.I)


@dataclass(frozen=True)
class Override:
    """A shifter's decision on lumisections ``first_ls``…``last_ls`` (inclusive) of ``run``."""

    run: int
    first_ls: int
    last_ls: int
    decision: str  # "good" or "bad"

    def as_row(self) -> tuple[int, int, int, str]:
        return (self.run, self.first_ls, self.last_ls, self.decision)


def parse_override(text: str) -> Override:
    """``RUN:LS=good|bad`` or ``RUN:FIRST-LAST=good|bad`` (refused with one clear error)."""
    found = _OVERRIDE.match(text)
    if not found:
        raise ConfigError(
            f"malformed --override {text!r}",
            "heplearn dqm certify",
            "expected RUN:LS=good|bad or RUN:FIRST-LAST=good|bad",
            "e.g. --override 355100:42=bad or --override 355100:10-20=good",
        )
    run, first, last, decision = found.groups()
    first_ls = int(first)
    last_ls = int(last) if last is not None else first_ls
    if int(run) < 1 or first_ls < 1 or last_ls < first_ls or last_ls - first_ls >= MAX_RANGE:
        raise ConfigError(
            f"--override {text!r}",
            "heplearn dqm certify",
            f"run and lumisections start at 1, and FIRST ≤ LAST < FIRST + {MAX_RANGE}",
            "give the run and an increasing lumisection range",
        )
    return Override(int(run), first_ls, last_ls, decision.lower())


def good_lumisections(history: History) -> dict[int, set[int]]:
    """Run → its good lumisections, after the overrides."""
    latest = (
        (item["run"], item["lumisection"], item["verdict"])
        for item in history.verdicts()
        if item["run"] is not None and item["lumisection"] is not None
    )
    return apply_overrides(latest, history.overrides())


def apply_overrides(
    verdicts: Iterable[tuple[int, int, str]], overrides: Iterable[Mapping[str, Any]]
) -> dict[int, set[int]]:
    """Run → good lumisections from (run, ls, verdict) in the order recorded, then overrides.

    The last verdict of a lumisection counts; overrides (rows with ``run``, ``first_ls``,
    ``last_ls``, ``decision``) apply in the order given, so the latest decision wins.
    """
    latest: dict[tuple[int, int], str] = {}
    for run, ls, verdict in verdicts:
        latest[(run, ls)] = verdict
    good: dict[int, set[int]] = {}
    for (run, ls), verdict in latest.items():
        if verdict == "good":
            good.setdefault(run, set()).add(ls)
    for override in overrides:
        span = range(override["first_ls"], override["last_ls"] + 1)
        chosen = good.setdefault(override["run"], set())
        if override["decision"] == "good":
            chosen.update(span)
        else:
            chosen.difference_update(span)
    return {run: lumis for run, lumis in good.items() if lumis}


def merge_ranges(lumisections: Iterable[int]) -> list[list[int]]:
    """Sorted inclusive ``[first, last]`` ranges of consecutive lumisections."""
    ranges: list[list[int]] = []
    for ls in sorted(set(lumisections)):
        if ranges and ls == ranges[-1][1] + 1:
            ranges[-1][1] = ls
        else:
            ranges.append([ls, ls])
    return ranges


def golden_json(good: dict[int, set[int]]) -> str:
    """The good-lumisection JSON text, one run per line as CMS writes it."""
    lines = [f'"{run}": {json.dumps(merge_ranges(good[run]))}' for run in sorted(good)]
    if not lines:
        return "{}\n"
    return "{\n  " + ",\n  ".join(lines) + "\n}\n"
