"""DQM dashboard under load: 50 concurrent clients for 30 s reading maps and runs on localhost.

    python bench/dqm_dashboard.py [--lumisections 10000] [--runs 10] [--maps-per-file 10]
                                  [--shape 82,72,4] [--clients 50] [--seconds 30] [--think 1,0]

Setup (not timed): a qtest run (statistical thresholds) trained on 20 good maps of
``--shape``; ``--lumisections`` maps written as HDF5 files (``run<N>_ls<LS>.h5``,
``--maps-per-file`` lumisections each, 3 % with a hot or dead channel) and checked by
``dqm watch --once`` into a history; then ``heplearn dqm serve`` in its own process on a
free 127.0.0.1 port.  Load: ``--clients`` asyncio clients, each a keep-alive HTTP/1.1
connection, loop for ``--seconds`` (bounded: they stop by themselves), each request
chosen at random — a map view (``/api/maps/{id}?depth=0``, what the map page asks
first, of a random lumisection of the whole history) 50 %, a run (``/api/runs/{run}``)
20 %, the runs table (``/api/runs``) 20 %, the poll (``/api/changes``) 10 % — with
``--think`` seconds (uniform 0.5–1.5 × the mean) between a client's requests: one
phase per value, by default 1 s (people and open pages; the pages poll every 2 s) then
0 (back to back: the server saturated, latency = clients / throughput).  Only 127.0.0.1
is ever contacted.  Prints one JSON object: per phase, p50/p95/p99/max latency (ms) and
count per endpoint, errors (non-200 answers or broken connections), requests per second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from heplearn.cli.main import main as heplearn
from heplearn.dqm.history import open_history
from heplearn.dqm.watch import Watcher, watch

WEIGHTS = {"map": 0.5, "run": 0.2, "runs": 0.2, "changes": 0.1}


def _maps(n: int, shape: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """(n, *shape) Poisson counts: a smooth η-like profile, ±5 % channel response."""
    eta = np.linspace(-2.5, 2.5, shape[0])[:, None, None]
    rate = 60.0 * np.cosh(eta) / np.cosh(2.5) * np.ones(shape) + 20.0
    rate = rate * np.random.default_rng(0).lognormal(0.0, 0.05, shape)
    return rng.poisson(rate[None] * rng.uniform(0.9, 1.1, (n, 1, 1, 1))).astype(np.float32)


def _write(path: Path, stack: np.ndarray) -> None:
    with h5py.File(path, "w") as handle:
        handle["maps"] = stack


def build(folder: Path, args: argparse.Namespace, shape: tuple[int, int, int]) -> Path:
    """Train, write the map files and watch them into a history; the history's path."""
    rng = np.random.default_rng(7)
    folder.mkdir(parents=True, exist_ok=True)
    reference = folder / "reference.h5"
    _write(reference, _maps(20, shape, rng))
    run = folder / "run-qtest"
    train = ["dqm", "train", "--model", "qtest", "--data", str(reference), "--out", str(run)]
    with contextlib.redirect_stdout(sys.stderr):  # stdout holds the JSON only
        assert heplearn(train) == 0
    incoming = folder / "incoming"
    incoming.mkdir()
    per_run = args.lumisections // args.runs
    for r in range(args.runs):
        for first in range(1, per_run + 1, args.maps_per_file):
            n = min(args.maps_per_file, per_run - first + 1)
            stack = _maps(n, shape, rng)
            faulty = rng.random(n) < 0.03
            for i in np.flatnonzero(faulty):
                row, col = rng.integers(0, shape[0]), rng.integers(0, shape[1])
                stack[i, row, col, 0] = 0.0 if rng.random() < 0.5 else stack[i, row, col, 0] * 5
            _write(incoming / f"run{360000 + r}_ls{first:05d}.h5", stack)
    history = folder / "history.sqlite"
    with open_history(history, create=True) as opened:
        watch(Watcher(incoming, run, opened, log=lambda _line: None), interval=0.0, once=True)
    return history


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(base: str, path: str) -> Any:
    with urllib.request.urlopen(base + path, timeout=60) as answer:
        return json.loads(answer.read())


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str
) -> tuple[int, int]:
    """One keep-alive GET: (status, body bytes)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n".encode())
    await writer.drain()
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    body = await reader.readexactly(length)
    return status, len(body)


async def _client(
    port: int, paths: dict[str, list[str]], deadline: float, think: float, seed: int
) -> tuple[dict[str, list[float]], int]:
    rng = random.Random(seed)
    kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    errors = 0
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.monotonic() < deadline:
            kind = rng.choices(kinds, weights)[0]
            path = rng.choice(paths[kind])
            tick = time.perf_counter()
            try:
                status, _ = await _request(reader, writer, path)
            except (OSError, ValueError, asyncio.IncompleteReadError):
                errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            times[kind].append(time.perf_counter() - tick)
            errors += status != 200
            if think:
                await asyncio.sleep(rng.uniform(0.5, 1.5) * think)
    finally:
        writer.close()
    return times, errors


async def load(
    port: int, paths: dict[str, list[str]], args: argparse.Namespace, think: float
) -> dict[str, Any]:
    deadline = time.monotonic() + args.seconds
    start = time.perf_counter()
    results = await asyncio.gather(
        *(_client(port, paths, deadline, think, seed) for seed in range(args.clients))
    )
    elapsed = time.perf_counter() - start
    endpoints: dict[str, Any] = {}
    for kind in WEIGHTS:
        values = np.array([t for times, _ in results for t in times[kind]]) * 1000.0
        if values.size:
            p50, p95, p99 = np.percentile(values, [50, 95, 99])
            endpoints[kind] = {
                "n": int(values.size),
                "p50_ms": round(float(p50), 1),
                "p95_ms": round(float(p95), 1),
                "p99_ms": round(float(p99), 1),
                "max_ms": round(float(values.max()), 1),
            }
    total = sum(e["n"] for e in endpoints.values())
    return {
        "think_s": think,
        "requests": total,
        "errors": int(sum(errors for _, errors in results)),
        "requests_per_s": round(total / elapsed, 1),
        "endpoints": endpoints,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lumisections", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--maps-per-file", type=int, default=10)
    parser.add_argument("--shape", default="82,72,4")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--workdir", type=Path, help="keep the history here and reuse it when it exists"
    )
    parser.add_argument(
        "--think",
        default="1,0",
        help="mean pause between a client's requests (s); several: one load phase each",
    )
    args = parser.parse_args()
    shape = tuple(int(v) for v in args.shape.split(","))
    assert len(shape) == 3
    with tempfile.TemporaryDirectory(prefix="dqm-dashboard-bench-") as tmp:
        folder = args.workdir or Path(tmp)
        tick = time.perf_counter()
        history = folder / "history.sqlite"
        if not history.exists():
            history = build(folder, args, shape)  # type: ignore[arg-type]
        setup = time.perf_counter() - tick
        port = _free_port()
        argv = [sys.executable, "-m", "heplearn.cli.main", "dqm", "serve", "--history"]
        server = subprocess.Popen(
            [*argv, str(history), "--port", str(port), "--read-only"],
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            stdout=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    runs = [r["run"] for r in _get(base, "/api/runs")["runs"]]
                    break
                except OSError:
                    assert time.monotonic() < deadline and server.poll() is None, "no server"
                    time.sleep(0.2)
            ids = [
                item["id"]
                for run in runs
                for item in _get(base, f"/api/runs/{run}")["lumisections"]
                if item["verdict"] != "unreadable"
            ]
            paths = {
                "map": [f"/api/maps/{i}?depth=0" for i in ids],
                "run": [f"/api/runs/{run}" for run in runs],
                "runs": ["/api/runs"],
                "changes": ["/api/changes"],
            }
            phases = [
                asyncio.run(load(port, paths, args, float(think)))
                for think in args.think.split(",")
            ]
        finally:
            server.terminate()
            server.wait(30)
    result = {
        "lumisections": len(ids),
        "runs": len(runs),
        "shape": list(shape),
        "maps_per_file": args.maps_per_file,
        "clients": args.clients,
        "seconds": args.seconds,
        "setup_s": round(setup, 1),
        "cpus": os.cpu_count(),
        "phases": phases,
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
