"""One JSON object per epoch appended to ``metrics.jsonl`` (easy to tail, plot, or grep)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["MetricLog"]


class MetricLog:
    """Append-only JSONL log; on resume, lines of epochs past the checkpoint are dropped."""

    def __init__(self, path: Path, keep_epochs: int, *, writer: bool = True) -> None:
        self.path = path
        if not writer:
            return  # other DDP processes read only
        kept = [row for row in self.read() if row.get("epoch", 0) <= keep_epochs]
        self.path.write_text("".join(json.dumps(row) + "\n" for row in kept))

    def append(self, row: dict[str, Any]) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
            handle.flush()

    def read(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        rows = []
        for line in self.path.read_text().splitlines():
            row = _parse(line)
            if row is None:
                break  # a line cut by a kill: everything after it is from the lost epoch
            rows.append(row)
        return rows


def _parse(line: str) -> dict[str, Any] | None:
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return None
    return row if isinstance(row, dict) else None
