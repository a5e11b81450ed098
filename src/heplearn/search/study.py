"""``heplearn search study``: one search run per ``--vary`` value on the same split, compared.

Each variant (:mod:`heplearn.search.study_variants`) is an ordinary ``search scan`` folder,
``OUT/runs/<KEY=value>/`` (its run in ``run/``, its test-split evaluation beside it); every
variant uses the config's split fractions and seed, so all train, validate and test on the
same events.  Variants are independent, so they run in a process pool (``workers``) or on a
Dask cluster (``dask``, workers sharing the file system), as ``generate`` runs its shards.

The study is written into ``.OUT.partial`` and renamed to ``OUT`` when the comparison
(:mod:`heplearn.search.study_report`) is written.  After a kill, rerunning the command
skips the variants already finished there with the same config and store (each variant's
folder appears only when complete).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from heplearn.config import dump_config
from heplearn.data.atomic import check_output, remove_path, replace_path
from heplearn.data.saved_json import read_saved_json
from heplearn.errors import HeplearnError
from heplearn.generate.runner import dask_client
from heplearn.search.scan import RUN_FOLDER, scan_search
from heplearn.search.signal_points import declared_signal, resolve_points
from heplearn.search.study_report import write_study_report
from heplearn.search.study_variants import Variant
from heplearn.search.train import RUN_INFO, load_events

__all__ = ["RUNS", "StudyJob", "run_study"]

#: The folder of the variants inside a study.
RUNS = "runs"


def partial_path(out: Path) -> Path:
    """Where an unfinished study lives (a stable name, so a rerun finds it)."""
    return out.parent / f".{out.name}.partial"


@dataclass(frozen=True)
class StudyJob:
    """Run one variant into its folder (picklable, for a process pool or Dask)."""

    data: str
    folder: str

    def __call__(self, variant: Variant) -> tuple[str, float]:
        began = time.perf_counter()
        scan_search(variant.config, self.data, Path(self.folder) / variant.name)
        return variant.name, time.perf_counter() - began


def _finished(folder: Path, variant: Variant, data: Path) -> bool:
    """Whether ``folder`` holds this variant's complete scan, made from the same store."""
    run = folder / RUN_FOLDER
    if not ((folder / "metrics.json").is_file() and (run / RUN_INFO).is_file()):
        return False
    try:
        same_config = (run / "config.yaml").read_text(encoding="utf-8") == dump_config(
            variant.config
        )
        info = read_saved_json(run / RUN_INFO, "search run")
    except (OSError, UnicodeDecodeError, HeplearnError):  # damaged: run it again
        return False
    return same_config and info.get("data") == str(data.resolve())


def run_study(
    variants: list[Variant],
    data: str | Path,
    out: str | Path,
    *,
    vary: list[tuple[str, list[Any]]],
    workers: int = 1,
    dask: str | None = None,
    overwrite: bool = False,
    echo: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run every variant not yet finished, write the comparison, rename into ``out``.

    Returns the content of ``comparison.json``.
    """
    data, out = Path(data), Path(out)
    check_output(out, overwrite)
    say = echo or (lambda _line: None)
    # A store every variant would refuse fails here, before anything is written.
    first = variants[0].config
    table = load_events(data, first)
    resolve_points(table, first.signal_points, declared_signal(data), str(data))
    # Reach the cluster before writing anything, so a bad address leaves nothing behind.
    client = dask_client(dask) if dask is not None else None
    partial = partial_path(out)
    runs = partial / RUNS
    runs.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float | None] = {}
    todo: list[Variant] = []
    for variant in variants:
        folder = runs / variant.name
        if _finished(folder, variant, data):
            say(f"{variant.name}: finished before, skipped")
            seconds[variant.name] = None
            continue
        remove_path(folder)  # another config's or store's result under this name
        todo.append(variant)
    job = StudyJob(str(data), str(runs))

    def done(name: str, took: float) -> None:
        seconds[name] = took
        say(f"{name}: done in {took:.1f} s")

    if client is not None:
        try:
            for future in client.map(job, todo, pure=False):
                done(*future.result())
        finally:
            client.close()
    elif workers <= 1 or len(todo) <= 1:
        for variant in todo:
            done(*job(variant))
    else:
        count = min(workers, len(todo), os.cpu_count() or 1)
        # spawn: a forked copy of the driver's torch/OpenMP threads can deadlock (seen in CI)
        with ProcessPoolExecutor(max_workers=count, mp_context=get_context("spawn")) as pool:
            for future in as_completed([pool.submit(job, v) for v in todo]):
                done(*future.result())
    comparison = write_study_report(variants, runs, partial, vary=vary, data=data, seconds=seconds)
    replace_path(partial, out)
    return comparison
