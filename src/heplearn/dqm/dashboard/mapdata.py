"""Map content for the dashboard: the map a verdict was made on, and the run's expectation.

Only files recorded in the history are read, and, when the dashboard was given a maps
folder, only those inside it (after resolving links); no path from a request ever
reaches the file system — a request names a verdict id, the history names the file.
A file that is gone is a 404, a file whose content changed since it was checked (its
size or time moved and its SHA-256 differs) or that no longer reads is a 409, each with
the reason.  The maps are read as ``dqm check`` / ``dqm watch`` read them
(:func:`heplearn.dqm.sources.load_maps`), the expectation from the model run recorded
with the verdict (:mod:`heplearn.dqm.expectation`).

Read files, loaded models and encoded map views are kept in small caches (bounded in
bytes or entries), keyed by the file's stat, so a map viewed again costs a dictionary
look-up and a rewritten file is read again.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.data.file_digest import file_sha256
from heplearn.dqm.check import load_run_model
from heplearn.dqm.expectation import Expectation, expectation, group_channels
from heplearn.dqm.maps import MapSet
from heplearn.dqm.models import MapModel
from heplearn.dqm.sources import load_maps
from heplearn.errors import HeplearnError

__all__ = ["LruCache", "MapStore", "MapUnavailableError", "outline_segments"]

Array = np.ndarray[Any, Any]

#: Bytes of map files kept in memory (their counts as float32).
FILE_CACHE_BYTES = 512 * 2**20
#: Encoded map views kept.
VIEW_CACHE_ENTRIES = 512
#: Trained runs kept loaded.
MODEL_CACHE_ENTRIES = 8


class MapUnavailableError(Exception):
    """A map that cannot be shown: ``status`` (404 gone, 409 changed/unreadable) and why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class LruCache:
    """A thread-safe LRU cache bounded by the summed ``size`` of its values."""

    def __init__(self, budget: int, size: Callable[[Any], int] = lambda _: 1) -> None:
        self.budget = budget
        self.size = size
        self._items: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()
        self._pending: dict[Any, threading.Lock] = {}

    def get(self, key: Any) -> Any:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def get_or_compute(self, key: Any, compute: Callable[[], Any]) -> Any:
        """The cached value, or ``compute()``'s, computed once however many threads ask at once."""
        found = self.get(key)
        if found is not None:
            return found
        with self._lock:
            pending = self._pending.setdefault(key, threading.Lock())
        try:
            with pending:
                found = self.get(key)
                if found is None:
                    found = compute()
                    self.put(key, found)
        finally:
            with self._lock:
                self._pending.pop(key, None)
        return found

    def put(self, key: Any, value: Any) -> None:
        size = self.size(value)
        if size > self.budget:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._used -= old[1]
            self._items[key] = (value, size)
            self._used += size
            while self._used > self.budget:
                _, (_, dropped) = self._items.popitem(last=False)
                self._used -= dropped


def outline_segments(mask: Array) -> list[list[float]]:
    """Cell-border segments ``[x0, y0, x1, y1]`` around the True cells of a (rows, cols) mask.

    Cell (r, c) is centred on x = c, y = r (as a heatmap draws it): a border runs between
    a cell inside and its neighbour outside (or the map's edge).
    """
    padded = np.pad(mask.astype(bool), 1)
    segments: list[list[float]] = []
    # Horizontal borders: between rows r-1 and r (y = r - 0.5).
    rows, cols = np.nonzero(padded[1:, 1:-1] != padded[:-1, 1:-1])
    segments += [[c - 0.5, r - 0.5, c + 0.5, r - 0.5] for r, c in zip(rows, cols, strict=True)]
    rows, cols = np.nonzero(padded[1:-1, 1:] != padded[1:-1, :-1])
    segments += [[c - 0.5, r - 0.5, c - 0.5, r + 0.5] for r, c in zip(rows, cols, strict=True)]
    return [[float(v) for v in s] for s in segments]


def _rounded(values: Array, digits: int) -> list[Any]:
    """Finite values to ``digits`` decimals; integers when all are (4× faster to encode)."""
    clean = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if np.array_equal(clean, np.rint(clean)) and np.abs(clean).max(initial=0.0) < 2**53:
        return clean.astype(np.int64).tolist()  # type: ignore[no-any-return]
    return np.round(clean, digits).tolist()  # type: ignore[no-any-return]


class MapStore:
    """Reads the maps behind verdicts, within the allowed folder, with their expectation."""

    def __init__(self, maps_dir: Path | None, dataset: str | None = None) -> None:
        self.maps_dir = None if maps_dir is None else maps_dir.resolve()
        self.dataset = dataset
        self._files = LruCache(FILE_CACHE_BYTES, lambda maps: int(maps.counts.nbytes))
        self._hashes = LruCache(4096)
        self._models = LruCache(MODEL_CACHE_ENTRIES)
        self._views = LruCache(VIEW_CACHE_ENTRIES)

    # ---- files ----

    def _allowed(self, recorded: str) -> Path:
        path = Path(recorded)
        if not path.is_absolute():
            raise MapUnavailableError(404, f"the history records a relative path {recorded!r}")
        resolved = path.resolve()
        if self.maps_dir is not None and not resolved.is_relative_to(self.maps_dir):
            raise MapUnavailableError(
                404, f"map file {recorded} lies outside the dashboard's --maps folder"
            )
        return resolved

    def _maps_of(self, row: dict[str, Any]) -> tuple[MapSet, tuple[Any, ...]]:
        """The maps of a verdict's file, checked against what the history recorded."""
        if row["file_status"] != "checked":
            raise MapUnavailableError(
                404, f"map file {row['file']} was unreadable when checked: {row['reason']}"
            )
        path = self._allowed(row["file"])
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise MapUnavailableError(404, f"map file {row['file']} is gone") from None
        except OSError as err:
            raise MapUnavailableError(404, f"map file {row['file']}: {err.strerror}") from None
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if (stat.st_size, stat.st_mtime_ns) != (row["size"], row["mtime_ns"]):
            sha = self._hashes.get(key)
            if sha is None:
                sha = file_sha256(path)
                self._hashes.put(key, sha)
            if sha != row["sha256"]:
                raise MapUnavailableError(
                    409,
                    f"map file {row['file']} changed since it was checked (another SHA-256); "
                    "its new content has its own verdicts once dqm watch sees it",
                )

        def read() -> MapSet:
            try:
                return load_maps(path, self.dataset)
            except HeplearnError as err:
                raise MapUnavailableError(409, f"map file no longer reads: {err.message}") from err
            except Exception as err:  # a damaged file can make the readers raise anything
                reason = f"{type(err).__name__}: {err}"
                raise MapUnavailableError(409, f"map file {row['file']}: {reason}") from err

        return self._files.get_or_compute(key, read), key

    def _index(self, maps: MapSet, row: dict[str, Any]) -> int:
        """The map's index in its file: its position among the file's verdicts, or its name."""
        index = int(row["index"])
        if index < len(maps) and maps.names[index] == row["map"]:
            return index
        if row["map"] in maps.names:
            return maps.names.index(row["map"])
        raise MapUnavailableError(409, f"map {row['map']!r} is not in {row['file']} any more")

    # ---- models ----

    def model(self, model_run: str) -> tuple[MapModel | None, str | None]:
        """The run's model (cached by its model.json's time), or None and why not."""
        meta = Path(model_run) / "model" / "model.json"
        try:
            key = (model_run, meta.stat().st_mtime_ns)
        except OSError:
            return None, f"the model run {model_run} is gone: no expectation, the map only"
        try:  # loaded once, however many requests ask for it at once
            found = self._models.get_or_compute(key, lambda: load_run_model(Path(model_run)))
        except HeplearnError as err:
            return None, f"the model run cannot be read ({err.message}): the map only"
        return found, None

    def _expectation(self, model_run: str, maps: MapSet) -> tuple[Expectation | None, str]:
        model, why = self.model(model_run)
        if model is None:
            return None, str(why)
        try:
            found = expectation(model, maps)
        except HeplearnError as err:
            return None, f"the model cannot judge this map now ({err.message}): the map only"
        if found is None:
            return None, f"a {model.name} run gives no expectation: the map only"
        return found, found.note

    # ---- views ----

    def map_view(self, row: dict[str, Any], depth: int | None) -> bytes:
        """The JSON of one map view (all depths, or one), encoded once and cached."""
        maps, key = self._maps_of(row)
        view_key = (row["id"], depth, key, row["latest_id"])
        cached = self._views.get(view_key)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        index = self._index(maps, row)
        one = maps.subset([index])
        h, w, d = one.shape
        if depth is not None and not 0 <= depth < d:
            raise MapUnavailableError(422, f"depth {depth} outside the map's 0…{d - 1}")
        depths = list(range(d)) if depth is None else [depth]
        found, note = self._expectation(row["model_run"], one)
        counts = one.counts[0]
        layers: dict[str, Any] = {"counts": [_rounded(counts[:, :, k], 3) for k in depths]}
        live: list[Any] | None = None
        if found is not None:
            expected = found.expected[0]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(expected > 0, counts / expected, 0.0)
            layers["expected"] = [_rounded(expected[:, :, k], 2) for k in depths]
            layers["pull"] = [_rounded(found.pull[0][:, :, k], 2) for k in depths]
            layers["ratio"] = [_rounded(ratio[:, :, k], 3) for k in depths]
            layers["reference"] = [_rounded(found.reference[0][:, :, k], 2) for k in depths]
            live = [found.live[:, :, k].astype(int).tolist() for k in depths]
        model, _ = self.model(row["model_run"])
        outlines = []
        if model is not None:
            for name, channels in group_channels(model, list(row["groups"])).items():
                for k in depths:
                    at = channels[channels[:, 2] == k]
                    if not at.size:
                        continue
                    mask = np.zeros((h, w), bool)
                    mask[at[:, 0], at[:, 1]] = True
                    outlines.append({"group": name, "depth": k, "segments": outline_segments(mask)})
        record = row["record"] if isinstance(row["record"], dict) else {}
        view = {
            **{k: row[k] for k in ("id", "run", "lumisection", "map", "file", "verdict")},
            **{k: row[k] for k in ("score", "groups", "flagged", "model", "model_run")},
            "checked_at": row["checked_at"],
            "reason": row["reason"],
            "warnings": list(record.get("warnings") or []),
            "latest_id": row["latest_id"],
            "superseded": row["latest_id"] != row["id"],
            "shape": [h, w, d],
            "depths": depths,
            "layers": layers,
            "live": live,
            "expectation": None if found is None else {"kind": found.kind, "note": note},
            "note": note,
            "outlines": outlines,
        }
        encoded = json.dumps(view, allow_nan=False, separators=(",", ":")).encode()
        self._views.put(view_key, encoded)
        return encoded

    def channel_history(
        self, rows: list[dict[str, Any]], row: int, col: int, depth: int
    ) -> list[dict[str, Any]]:
        """Counts, expected and pull of one channel in each verdict's map (rows: channel_rows)."""
        by_file: dict[tuple[int, str], list[dict[str, Any]]] = {}
        for item in rows:
            by_file.setdefault((item["file_id"], item["model_run"]), []).append(item)
        points: dict[int, dict[str, Any]] = {}
        for (_, model_run), items in by_file.items():
            base = {k: items[0][k] for k in ("file", "sha256", "size", "mtime_ns", "file_status")}
            try:
                maps, _ = self._maps_of({**base, "reason": None})
                indexes = [self._index(maps, item) for item in items]
            except MapUnavailableError as err:
                for item in items:
                    points[item["id"]] = self._point(item, row, col, depth, why=err.reason)
                continue
            h, w, d = maps.shape
            if not (0 <= row < h and 0 <= col < w and 0 <= depth < d):
                raise MapUnavailableError(
                    422, f"channel ({row}, {col}, {depth}) outside the maps {maps.shape}"
                )
            chosen = maps.subset(indexes)
            found, _ = self._expectation(model_run, chosen)
            for i, item in enumerate(items):
                values = {"counts": float(chosen.counts[i, row, col, depth])}
                if found is not None:
                    values["expected"] = round(float(found.expected[i, row, col, depth]), 3)
                    values["pull"] = round(float(found.pull[i, row, col, depth]), 2)
                points[item["id"]] = self._point(item, row, col, depth, values=values)
        return [points[item["id"]] for item in rows]

    @staticmethod
    def _point(
        item: dict[str, Any],
        row: int,
        col: int,
        depth: int,
        *,
        values: dict[str, float] | None = None,
        why: str | None = None,
    ) -> dict[str, Any]:
        channel = [row, col, depth]
        flagged = any(
            list(f) == channel or (len(f) == 2 and depth == 0 and list(f) == channel[:2])
            for f in item["flagged"]
        )
        return {
            "lumisection": item["lumisection"],
            "id": item["id"],
            "verdict": item["verdict"],
            "flagged": flagged,
            "counts": None,
            "expected": None,
            "pull": None,
            **(values or {}),
            "unavailable": why,
        }
