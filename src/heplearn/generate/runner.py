"""Sharded, resumable, parallel generation: a process pool by default, Dask with an address.

Shards are independent and seeded by (seed, shard), so the store is the same
whether they ran in one process, K processes or on a Dask cluster.  Workers
write their shards themselves (atomically) into the store's partial folder; the
manifest is written last by the caller's process, which then renames the folder
into place.  A rerun skips the shards already complete and intact.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from heplearn.config import dump_config
from heplearn.data.provenance import provenance
from heplearn.data.schema import Column
from heplearn.data.shards import ShardedWriter, run_fingerprint
from heplearn.errors import ConfigError
from heplearn.progress import progress_bar

__all__ = ["RunOptions", "ShardJob", "dask_client", "run_sharded"]

#: Seconds to wait for a Dask scheduler before giving up with a clear error.
DASK_TIMEOUT_S = 10


class RunOptions(TypedDict, total=False):
    """How a sample's shards run: the keyword options every ``*_dataset`` function passes on.

    ``workers`` local processes (default 1), or the Dask scheduler at address ``dask``;
    ``overwrite`` replaces another run's output; ``progress`` shows a progress bar.
    """

    workers: int
    dask: str | None
    overwrite: bool
    progress: bool


@dataclass(frozen=True)
class ShardJob:
    """Everything a worker needs to write one shard (picklable: frozen dataclasses and names)."""

    config: Any
    simulate: Callable[[Any, int], dict[str, Column]]
    folder: str
    fingerprint: str
    provenance: dict[str, Any]

    def __call__(self, shard: int) -> int:
        writer = ShardedWriter.attach(
            self.folder, fingerprint=self.fingerprint, provenance=self.provenance
        )
        writer.write_shard(shard, self.simulate(self.config, shard))
        return shard


def dask_client(address: str) -> Any:
    """A client of the Dask scheduler at ``address``; a ConfigError if absent or silent."""
    try:
        from distributed import Client
    except ImportError as err:
        raise ConfigError(
            "option --dask",
            address,
            "dask.distributed is not installed",
            "pip install 'heplearn[dask]'",
        ) from err
    try:
        return Client(address, timeout=DASK_TIMEOUT_S)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as err:
        raise ConfigError(
            "Dask scheduler",
            address,
            f"no answer within {DASK_TIMEOUT_S} s ({err})",
            "check the address and that the scheduler is running",
        ) from err


def run_sharded(
    config: Any,
    simulate: Callable[[Any, int], dict[str, Column]],
    out: str | Path,
    *,
    n_shards: int,
    workers: int = 1,
    dask: str | None = None,
    overwrite: bool = False,
    progress: bool = False,
    label: str = "shards",
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Run ``simulate(config, shard)`` for every missing shard and write the sharded store.

    ``metadata`` (JSON-able) is added to the store's provenance, e.g. the sample names.
    """
    resolved = dump_config(config)
    # Reach the cluster before touching the output, so a bad address leaves nothing behind.
    client = dask_client(dask) if dask is not None else None
    writer = ShardedWriter(
        out,
        fingerprint=run_fingerprint(resolved),
        provenance=provenance(
            config=resolved, seed=getattr(config, "seed", None), **(metadata or {})
        ),
        overwrite=overwrite,
    )
    job = ShardJob(config, simulate, str(writer.folder), writer.fingerprint, writer.provenance)
    todo = [shard for shard in range(n_shards) if not writer.is_done(shard)]
    with progress_bar(label, n_shards, enabled=progress) as advance:
        advance(n_shards - len(todo))
        if client is not None:
            try:
                for future in client.map(job, todo, pure=False):
                    future.result()
                    advance(1)
            finally:
                client.close()
        elif workers <= 1 or len(todo) <= 1:
            for shard in todo:
                job(shard)
                advance(1)
        else:
            with ProcessPoolExecutor(
                max_workers=min(workers, len(todo), os.cpu_count() or 1)
            ) as pool:
                for future in as_completed([pool.submit(job, shard) for shard in todo]):
                    future.result()
                    advance(1)
    writer.finalize(n_shards)
    return Path(out)
