"""Outputs are whole or absent: every command that writes, failing half-way, keeps the old output.

Each case puts a previous output under the final name, runs the command with ``--overwrite``
and a failure injected half-way (an exception in-process; a real SIGKILL of a subprocess for
a few), then checks that the previous output is byte for byte intact and that nothing but
a resumable ``.NAME.partial`` folder is left beside it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from heplearn.data import open_store

from conftest import CliResult

SEARCH_TRAINING = "configs/search/train-quick.yaml"
PREVIOUS = b"the previous output, which must survive"

FAST_CALIB = """kind: calib-train
preset: tiny
bdt: {n_estimators: 20, learning_rate: 0.3}
trainer: {epochs: 2, batch_size: 128, lr_max: 0.005, patience: 0}
"""


class InjectedError(RuntimeError):
    """The failure a test injects (a bug-like exception, not a HeplearnError)."""


def _fail(*_args: Any, **_kwargs: Any) -> Any:
    raise InjectedError("injected failure half-way")


def _after(calls: int, original: Callable[..., Any]) -> Callable[..., Any]:
    """``original`` for the first ``calls`` calls, then the injected failure."""
    done = [0]

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if done[0] >= calls:
            _fail()
        done[0] += 1
        return original(*args, **kwargs)

    return wrapped


def _first_batch_then_fail(original: Callable[..., Iterator[Any]]) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Iterator[Any]:
        batches = original(*args, **kwargs)
        yield next(batches)
        _fail()

    return wrapped


# ---- inputs, made once per module and only for the cases that ask for them ----


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("inputs")


@pytest.fixture(scope="module")
def calib_config(inputs: Path) -> Path:
    path = inputs / "fast.yaml"
    path.write_text(FAST_CALIB)
    return path


@pytest.fixture(scope="module")
def calib_run(inputs: Path, gun_store: Path, calib_config: Path) -> Path:
    from heplearn.cli.main import main

    run = inputs / "calib-run"
    args = ["calib", "train", "-d", str(gun_store), "-o", str(run), "-c", str(calib_config)]
    assert main(args) == 0
    return run


@pytest.fixture(scope="module")
def masses_csv(inputs: Path) -> Path:
    rng = np.random.default_rng(4)
    path = inputs / "zee.csv"
    pd.DataFrame({"m_ee": 91.19 + rng.normal(0, 2.0, 4000)}).to_csv(path, index=False)
    return path


#: One |η| bin and a low pair threshold: the 300-event Z→ee store has ≈ 100 pairs.
ONE_BIN = ["--eta-edges", "0,2.5", "--min-pairs", "20", "--min-fit-pairs", "20"]


@pytest.fixture(scope="module")
def corrections(inputs: Path, zee_store: Path) -> Path:
    from heplearn.cli.main import main

    path = inputs / "corrections.json"
    assert main(["calib", "scale-fit", "-d", str(zee_store), *ONE_BIN, "-o", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def dqm_store(inputs: Path) -> Path:
    from heplearn.cli.main import main

    out = inputs / "maps"
    args = ["generate", "dqm", "-c", "configs/dqm/quick.yaml", "-o", str(out), "-n", "240"]
    assert main(args) == 0
    return out


@pytest.fixture(scope="module")
def dqm_run(inputs: Path, dqm_store: Path) -> Path:
    from heplearn.cli.main import main

    run = inputs / "qtest"
    assert main(["dqm", "train", "--model", "qtest", "-d", str(dqm_store), "-o", str(run)]) == 0
    return run


@pytest.fixture(scope="module")
def dqm_history(inputs: Path) -> Path:
    """A DQM history with one good lumisection, as ``dqm watch`` records it."""
    from heplearn.dqm.history import FileEntry, MapEntry, open_history

    path = inputs / "history.sqlite"
    with open_history(path, create=True) as history:
        entry = FileEntry("/maps/run1_ls1.root", "0" * 64, 1, 1, "checked")
        history.record_file(entry, [MapEntry("ls1", 1, 1, "good", 0.5, "qtest", "run")])
    return path


@pytest.fixture(scope="module")
def search_store(inputs: Path) -> Path:
    from heplearn.cli.main import main

    out = inputs / "search"
    args = ["generate", "search", "-c", "configs/search/quick.yaml", "-o", str(out)]
    assert main([*args, "--events", "800"]) == 0
    return out


@pytest.fixture(scope="module")
def search_run(inputs: Path, search_store: Path) -> Path:
    from heplearn.cli.main import main

    run = inputs / "search-run"
    args = ["search", "train", "-c", SEARCH_TRAINING, "-d", str(search_store)]
    assert main([*args, "-o", str(run)]) == 0
    return run


# ---- the cases ----

Inputs = Callable[[str], Path]  # fixture name → its value


@dataclass(frozen=True)
class Case:
    """One command that writes ``name`` (a file or a folder), and where it fails."""

    name: str
    argv: Callable[[Inputs, Path], list[Any]]
    patch: tuple[str, Callable[[Any], Any]]  # "module:attribute", original → replacement
    folder: bool = True
    resumable: bool = False  # a stable .NAME.partial may stay, for the rerun to resume
    siblings: tuple[str, ...] = ()  # further outputs written beside ``name``
    marks: tuple[Any, ...] = field(default_factory=tuple)


def _shard_writer(original: Any) -> Any:
    def write_shard(self: Any, index: int, columns: Any) -> Path:
        if index >= 1:
            _fail()
        return original(self, index, columns)  # type: ignore[no-any-return]

    return write_shard


def _gun_config(get: Inputs, final: Path) -> Path:
    path = final.parent.parent / "gun.yaml"
    path.write_text("kind: calib-sample\nevents: 200\nshard_events: 100\nseed: 8\n")
    return path


CASES = [
    Case(
        "gun",
        lambda get, out: ["generate", "calib", "-c", _gun_config(get, out), "-o", out],
        ("heplearn.data.shards:ShardedWriter.write_shard", _shard_writer),
        resumable=True,
    ),
    Case(
        "maps",
        lambda get, out: ["generate", "dqm", "-c", "configs/dqm/quick.yaml", "-o", out],
        ("heplearn.data.shards:ShardedWriter.write_shard", _shard_writer),
        resumable=True,
    ),
    Case(
        "search",
        lambda get, out: (
            ["generate", "search", "-c", "configs/search/quick.yaml", "-o", out, "--events", "400"]
        ),
        ("heplearn.data.shards:ShardedWriter.write_shard", _shard_writer),
        resumable=True,
        marks=(pytest.mark.slow,),
    ),
    Case(
        "imported.h5",
        lambda get, out: ["data", "import", get("masses_csv"), "-o", out, "--step", "1000"],
        ("heplearn.data.writer:StoreWriter.append", lambda original: _after(1, original)),
        folder=False,
    ),
    Case(
        "exported.root",
        lambda get, out: ["data", "export", get("gun_store"), "-o", out],
        ("heplearn.data.reader:Store.iter_batches", _first_batch_then_fail),
        folder=False,
    ),
    Case(
        "validation",
        lambda get, out: ["data", "validate", get("gun_store"), "-o", out],
        ("heplearn.report.html:HtmlReport.write", lambda original: _fail),
    ),
    Case(
        "calib-run",
        lambda get, out: (
            ["calib", "train", "-d", get("gun_store"), "-o", out, "-c", get("calib_config")]
        ),
        ("heplearn.calib.train:fit", lambda original: _fail),
        resumable=True,
    ),
    Case(
        "calib-eval",
        lambda get, out: (
            [
                "calib",
                "evaluate",
                "-r",
                get("calib_run"),
                "-d",
                get("zee_store"),
                "-o",
                out,
                "--bootstrap",
                "10",
                "--no-importance",
            ]
        ),
        ("heplearn.report.html:HtmlReport.write", lambda original: _fail),
    ),
    Case(
        "calib-eval-data",
        lambda get, out: (
            [
                *("calib", "evaluate", "-r", get("calib_run"), "-d", get("zee_store")),
                *("-o", out, "--no-truth", "--min-pairs", "20"),
            ]
        ),
        ("heplearn.report.html:HtmlReport.write", lambda original: _fail),
    ),
    Case(
        "model.onnx",
        lambda get, out: ["calib", "export", "-r", get("calib_run"), "-o", out],
        # A wrong result of onnxruntime: the parity check fails, as a broken exporter would.
        ("heplearn.calib.onnx_export:onnx_predict", lambda original: lambda *a: np.zeros(1)),
        folder=False,
        siblings=("model.scalers.json",),
    ),
    Case(
        "fit",
        lambda get, out: ["calib", "fit-mass", get("masses_csv"), "-c", "m_ee", "-o", out],
        ("heplearn.cli.calib_fit_mass:plot_mass_fit", lambda original: _fail),
    ),
    Case(
        "corrections.json",
        lambda get, out: ["calib", "scale-fit", "-d", get("zee_store"), *ONE_BIN, "-o", out],
        ("heplearn.calib.data_scale_fit:corrections_json", lambda original: _fail),
        folder=False,
    ),
    Case(
        "corrected.h5",
        lambda get, out: (
            [
                *("calib", "correct", "--corrections", get("corrections")),
                *("-d", get("zee_store"), "-o", out),
            ]
        ),
        ("heplearn.data.reader:Store.iter_batches", _first_batch_then_fail),
        folder=False,
    ),
    Case(
        "compare",
        lambda get, out: (
            [
                *("calib", "compare", "--mc", get("zee_store"), "--data", get("zee_store")),
                *("--out", out, "--bootstrap", "10"),
            ]
        ),
        ("heplearn.report.html:HtmlReport.write", lambda original: _fail),
    ),
    Case(
        "dqm-run",
        lambda get, out: ["dqm", "train", "--model", "qtest", "-d", get("dqm_store"), "-o", out],
        ("heplearn.dqm.train:dump_config", lambda original: _fail),
    ),
    Case(
        "dqm-eval",
        lambda get, out: (
            ["dqm", "evaluate", "-r", get("dqm_run"), "-d", get("dqm_store"), "-o", out]
        ),
        ("heplearn.report.html:HtmlReport.write", lambda original: _fail),
    ),
    Case(
        "golden.json",
        lambda get, out: ["dqm", "certify", "--history", get("dqm_history"), "-o", out],
        ("heplearn.dqm.certify:golden_json", lambda original: _fail),
        folder=False,
    ),
    Case(
        "search-run",
        lambda get, out: (
            ["search", "train", "-c", SEARCH_TRAINING, "-d", get("search_store"), "-o", out]
        ),
        ("heplearn.search.train:dump_config", lambda original: _fail),
        marks=(pytest.mark.slow,),
    ),
    Case(
        "search-eval",
        lambda get, out: (
            ["search", "evaluate", "-r", get("search_run"), "-d", get("search_store"), "-o", out]
        ),
        ("heplearn.report.html:HtmlReport.write", lambda original: _fail),
        marks=(pytest.mark.slow,),
    ),
    Case(
        "scan",
        lambda get, out: (
            [
                "search",
                "scan",
                "-c",
                SEARCH_TRAINING,
                "-d",
                get("search_store"),
                "-o",
                out,
            ]
        ),
        ("heplearn.report.html:HtmlReport.write", lambda original: _fail),
        marks=(pytest.mark.slow,),
    ),
    Case(
        "search-study",
        lambda get, out: (
            [
                *("search", "study", "-c", SEARCH_TRAINING, "-d", get("search_store")),
                *("-o", out, "--vary", "padding=thesis"),
            ]
        ),
        # After the variant's run: the comparison fails; the run stays for the rerun to reuse.
        ("heplearn.search.study:write_study_report", lambda original: _fail),
        resumable=True,
        marks=(pytest.mark.slow,),
    ),
]


def _put_previous(path: Path, folder: bool) -> None:
    if folder:
        path.mkdir(parents=True)
        (path / "previous.bin").write_bytes(PREVIOUS)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(PREVIOUS)


def _is_previous(path: Path, folder: bool) -> bool:
    if folder:
        return [p.name for p in path.iterdir()] == ["previous.bin"] and (
            (path / "previous.bin").read_bytes() == PREVIOUS
        )
    return path.read_bytes() == PREVIOUS


def _leftovers(parent: Path, case: Case) -> list[str]:
    expected = {case.name, *case.siblings}
    if case.resumable:
        expected.add(f".{case.name}.partial")
    return sorted(p.name for p in parent.iterdir() if p.name not in expected)


def _patch(monkeypatch: pytest.MonkeyPatch, target: str, replace: Callable[[Any], Any]) -> None:
    module_name, _, dotted = target.partition(":")
    owner: Any = __import__(module_name, fromlist=["_"])
    *path, attribute = dotted.split(".")
    for part in path:
        owner = getattr(owner, part)
    monkeypatch.setattr(owner, attribute, replace(getattr(owner, attribute)))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=c.marks) for c in CASES])
def test_a_failure_half_way_keeps_the_previous_output(
    case: Case,
    cli: Callable[..., CliResult],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    get: Inputs = request.getfixturevalue
    argv = case.argv(get, tmp_path / "outputs" / case.name)  # the inputs are made unpatched
    parent = tmp_path / "outputs"
    final = parent / case.name
    _put_previous(final, case.folder)
    for sibling in case.siblings:
        _put_previous(parent / sibling, folder=False)
    _patch(monkeypatch, *case.patch)

    result = cli(*argv, "--overwrite")

    assert result.code == 1, result
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert _is_previous(final, case.folder)
    for sibling in case.siblings:
        assert _is_previous(parent / sibling, folder=False)
    assert _leftovers(parent, case) == []


def test_calib_study_keeps_its_storage_and_each_report_file_whole(
    cli: Callable[..., CliResult],
    gun_store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """calib study writes study.db in place by design (trial by trial: a rerun resumes it);
    study.json and report.html are each whole or the previous one."""
    import json

    tiny = Path("configs/calib/study/tiny.yaml").resolve()
    text = tiny.read_text().replace("../train/tiny.yaml", str(tiny.parent / "../train/tiny.yaml"))
    config = tmp_path / "study.yaml"
    config.write_text(text.replace("trainer.epochs: 2", "trainer.epochs: 1"))
    out = tmp_path / "study"
    out.mkdir()
    (out / "report.html").write_bytes(PREVIOUS)
    (out / "study.json").write_bytes(PREVIOUS)  # a study folder of an earlier call
    args = ["calib", "study", "-c", config, "-d", gun_store, "-o", out, "-n", "1"]
    _patch(monkeypatch, "heplearn.report.html:HtmlReport.write", lambda original: _fail)
    result = cli(*args)
    assert result.code == 1 and len(result.err.strip().splitlines()) == 1, result
    monkeypatch.undo()
    assert (out / "report.html").read_bytes() == PREVIOUS
    assert json.loads((out / "study.json").read_text())["counts"]["complete"] == 1
    names = sorted(p.name for p in out.iterdir())
    assert names == ["report.html", "study.db", "study.json", "trials"], names
    assert [p.name for p in (out / "trials").iterdir()] == ["trial-0000"]
    result = cli(*args)  # resumed: nothing to rerun, the report written
    assert result.code == 0, result.err
    assert json.loads((out / "study.json").read_text())["counts"]["new"] == 0
    assert b"calib study" in (out / "report.html").read_bytes()


def test_fit_mass_writes_nothing_unless_asked(
    cli: Callable[..., CliResult], masses_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("calib", "fit-mass", masses_csv, "-c", "m_ee", "--json")
    assert result.code == 0, result.err
    assert '"plot": null' in result.out
    assert list(tmp_path.iterdir()) == []
    result = cli("calib", "fit-mass", masses_csv, "-c", "m_ee", "--plot")
    assert result.code == 0, result.err
    assert (tmp_path / "fit-mass-m_ee" / "mass_fit.png").is_file()


# ---- a real SIGKILL: nothing can clean up, and the rerun must cope ----

KILL_DURING_TRAINING = textwrap.dedent(
    """
    import os, signal, sys
    from heplearn.training import checkpoint
    from heplearn.cli.main import main

    original = checkpoint.save_checkpoint

    def save_then_die(*args, **kwargs):
        original(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)  # killed after the first epoch's checkpoint

    checkpoint.save_checkpoint = save_then_die
    from heplearn.training import loop
    loop.save_checkpoint = save_then_die
    sys.exit(main(sys.argv[1:]))
    """
)

KILL_DURING_IMPORT = textwrap.dedent(
    """
    import os, signal, sys
    from heplearn.data import writer
    from heplearn.cli.main import main

    original = writer.StoreWriter.append

    def append_then_die(self, columns):
        original(self, columns)
        self._file.flush()
        os.kill(os.getpid(), signal.SIGKILL)  # killed with the file half-written

    writer.StoreWriter.append = append_then_die
    sys.exit(main(sys.argv[1:]))
    """
)


def _killed(script: str, *args: str | Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, "-c", script, *(str(a) for a in args)]
    result = subprocess.run(argv, check=False, env=env, capture_output=True, text=True)
    assert result.returncode == -signal.SIGKILL, result.stderr


def test_failed_calib_train_resumes_from_its_partial_folder(
    cli: Callable[..., CliResult],
    gun_store: Path,
    calib_config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from heplearn.training import loop

    run = tmp_path / "run"
    args = ["calib", "train", "-d", gun_store, "-o", run, "-c", calib_config]
    monkeypatch.setattr(loop, "save_checkpoint", _after(1, loop.save_checkpoint))
    assert cli(*args).code == 1  # failed in the second epoch
    assert not run.exists()
    assert (tmp_path / ".run.partial" / "network" / "last.pt").is_file()  # epoch 1
    monkeypatch.undo()
    assert cli(*args).code == 1  # a new run is not started over a killed one silently ...
    result = cli(*args, "--resume")  # ... it is resumed
    assert result.code == 0, result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert len((run / "network" / "metrics.jsonl").read_text().splitlines()) == 2


@pytest.mark.slow
def test_killed_calib_train_keeps_the_old_run_and_resumes(
    cli: Callable[..., CliResult], gun_store: Path, calib_config: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    _put_previous(run, folder=True)
    args = ["calib", "train", "-d", gun_store, "-o", run, "-c", calib_config, "--overwrite"]

    _killed(KILL_DURING_TRAINING, *args)

    assert _is_previous(run, folder=True)
    partial = tmp_path / ".run.partial"
    assert (partial / "network" / "last.pt").is_file()
    epochs = (partial / "network" / "metrics.jsonl").read_text().splitlines()
    assert len(epochs) == 1
    result = cli(*args, "--resume")
    assert result.code == 0, result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert len((run / "network" / "metrics.jsonl").read_text().splitlines()) == 2
    assert (run / "network" / "best.safetensors").is_file()


@pytest.mark.usefixtures("calib_config")
def test_resume_of_a_finished_run_keeps_it_until_done(
    cli: Callable[..., CliResult],
    calib_run: Path,
    gun_store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shutil

    calib_config = calib_run.parent / "fast.yaml"
    run = Path(shutil.copytree(calib_run, tmp_path / "run"))
    before = sorted(str(p.relative_to(run)) for p in run.rglob("*"))
    monkeypatch.setattr("heplearn.calib.train.fit", _fail)
    args = ["calib", "train", "-d", gun_store, "-o", run, "-c", calib_config, "--resume"]
    assert cli(*args).code == 1
    assert sorted(str(p.relative_to(run)) for p in run.rglob("*")) == before
    monkeypatch.undo()
    assert cli(*args).code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_killed_import_keeps_the_old_store_and_the_rerun_cleans_up(
    cli: Callable[..., CliResult], masses_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "imported.h5"
    _put_previous(out, folder=False)
    args = ["data", "import", masses_csv, "-o", out, "--step", "1000", "--overwrite"]

    _killed(KILL_DURING_IMPORT, *args)

    assert _is_previous(out, folder=False)
    assert len(list(tmp_path.glob(".imported.h5.tmp-*"))) == 1  # the dead process's
    assert cli(*args).code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imported.h5"]
    assert open_store(out).rows == 4000


def test_demo_replaces_its_root_file_only_with_overwrite(
    cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stop right after the ROOT step: the rest of the demo is not what is tested here.
    monkeypatch.setattr("heplearn.cli.demo.calib_demo", _fail)
    out = tmp_path / "demo"
    root = out / "zee-sample.root"
    _put_previous(root, folder=False)
    result = cli("demo", "--quick", "--out", out)
    assert result.code == 1 and "--overwrite" in result.err and str(root) in result.err
    assert _is_previous(root, folder=False)
    result = cli("demo", "--quick", "--out", out, "--overwrite")
    assert "injected failure" in result.err  # got past the ROOT step
    assert root.read_bytes()[:4] == b"root"


def test_dqm_serve_writes_nothing_but_certification_rows(dqm_history: Path, tmp_path: Path) -> None:
    """``dqm serve`` reads; its one write is a certification decision (an overrides row)."""
    import sqlite3
    import warnings
    from contextlib import closing

    from heplearn.dqm.dashboard import Settings, create_app

    with warnings.catch_warnings():  # starlette prefers the httpx2 fork; httpx works the same
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    history = tmp_path / "history.sqlite"
    with closing(sqlite3.connect(dqm_history)) as source, closing(sqlite3.connect(history)) as copy:
        source.backup(copy)

    def tables() -> dict[str, list[tuple[Any, ...]]]:
        with closing(sqlite3.connect(f"file:{history}?mode=ro", uri=True)) as db:
            names = ("heplearn_history", "files", "verdicts", "overrides")
            return {n: db.execute(f"SELECT * FROM {n} ORDER BY rowid").fetchall() for n in names}

    before = tables()
    app = create_app(Settings(history=history))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        for url in ("/", "/runs/1", "/maps/1", "/certification", "/login", "/docs", "/api/runs",
                    "/api/runs/1", "/api/maps/1", "/api/channels/1/0/0", "/api/overrides",
                    "/api/golden.json", "/api/changes", "/api/csrf"):  # fmt: skip
            assert client.get(url).status_code < 500, url
        assert tables() == before
        csrf = {"X-CSRF-Token": client.get("/api/csrf").json()["csrf"]}
        decision = {"run": 1, "first_ls": 1, "decision": "bad", "comment": "test"}
        assert client.post("/api/certification", json=decision, headers=csrf).is_success
    after = tables()
    assert {k: v for k, v in after.items() if k != "overrides"} == {
        k: v for k, v in before.items() if k != "overrides"
    }
    assert len(after["overrides"]) == len(before["overrides"]) + 1
    # SQLite's WAL files beside the history are all that may appear.
    assert {p.name for p in tmp_path.iterdir()} <= {
        "history.sqlite",
        "history.sqlite-wal",
        "history.sqlite-shm",
    }
