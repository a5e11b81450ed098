"""Small Z→ee stores for the data-calibration tests, and copies without a field group."""

from __future__ import annotations

from pathlib import Path

from heplearn.config import parse_config
from heplearn.data import open_store
from heplearn.data.writer import StoreWriter
from heplearn.generate.calib import CalibSampleConfig, calib_dataset


def zee_sample(
    folder: Path, events: int, seed: int, shard_events: int | None = None, **settings: object
) -> Path:
    """A Z→ee store (nominal, or pseudo-data with ``detector_shift=...``) in ``folder``."""
    shard = events if shard_events is None else shard_events
    base = {"source": "zee", "events": events, "shard_events": shard, "seed": seed}
    return calib_dataset(parse_config(CalibSampleConfig, {**base, **settings}, "test"), folder)


def without_group(source: Path, out: Path, group: str) -> Path:
    """A copy of ``source`` without the fields under ``group/`` (validation, truth)."""
    store = open_store(source)
    fields = [name for name in store.schema if not name.startswith(f"{group}/")]
    with StoreWriter(out, provenance=store.provenance) as writer:
        for batch in store.iter_batches(100_000, fields=fields):
            writer.append(batch)
    return out
