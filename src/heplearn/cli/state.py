"""Process-wide CLI state set by global options (only ``--debug`` for now)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["STATE"]


@dataclass
class CliState:
    debug: bool = False


STATE = CliState()
