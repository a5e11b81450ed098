"""``heplearn dqm watch``: new files become verdicts in the history, once each, whatever happens.

Files are dropped into a folder one by one while a real ``watch`` process polls it (one
of them truncated), a watcher is SIGKILLed inside a file's transaction and restarted,
and files still being written are left alone until they settle.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from watched_maps import drop, maps, recorded, train_qtest, write_h5, write_root

from conftest import CliResult, assert_one_error


@pytest.fixture(scope="module")
def qrun(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_qtest(tmp_path_factory.mktemp("watch-run"))


def _root_bytes(tmp: Path, names: list[str], seed: int) -> bytes:
    path = write_root(
        tmp / f"source-{seed}.root", dict(zip(names, maps(len(names), seed), strict=True))
    )
    data = path.read_bytes()
    path.unlink()
    return data


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def _wait_for(condition: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow  # a real watch process: ≈ 4 s of imports
def test_files_dropped_one_by_one_become_verdicts_in_order(qrun: Path, tmp_path: Path) -> None:
    folder, history = tmp_path / "incoming", tmp_path / "history.sqlite"
    folder.mkdir()
    argv = [sys.executable, "-m", "heplearn.cli.main", "dqm", "watch", str(folder)]
    argv += ["--run", str(qrun), "--history", str(history), "--interval", "0.1"]
    watcher = subprocess.Popen(argv, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for(history.exists)
        (folder / ".hidden.root").write_bytes(_root_bytes(tmp_path, ["ls001"], 9))
        (folder / "run7_ls0100.root.part").write_bytes(b"still being copied")
        expected = []
        for ls in range(1, 8):
            name = f"run7_ls{ls:04d}.root"
            data = _root_bytes(tmp_path, [f"ls{ls:03d}"], seed=ls)
            if ls == 4:
                data = data[: len(data) // 2]  # the truncated one
            drop(folder / name, data)
            expected.append((name, f"ls{ls:03d}" if ls != 4 else name, 7, ls))
            time.sleep(0.15)
        _wait_for(lambda: len(recorded(history)) == 7)
        watcher.send_signal(signal.SIGINT)  # Ctrl-C: a clean stop
        out, err = watcher.communicate(timeout=30)
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert watcher.returncode == 0, err
    rows = recorded(history)
    assert [row[:4] for row in rows] == expected  # in order, none lost, none twice
    verdicts = {row[0]: row[4] for row in rows}
    assert verdicts["run7_ls0004.root"] == "unreadable"
    assert all(v != "unreadable" for n, v in verdicts.items() if n != "run7_ls0004.root")
    text = out.decode()
    assert "stopped" in text and "7 files, 6 maps recorded" in text
    assert "run 7 ls 4 run7_ls0004.root: unreadable" in text


KILL_INSIDE_A_TRANSACTION = textwrap.dedent(
    """
    import os, signal, sys
    from heplearn.dqm import history
    from heplearn.cli.main import main

    original = history._insert_verdict
    calls = [0]

    def insert_then_die(*args):
        original(*args)
        calls[0] += 1
        if calls[0] == 5:  # the first map of the third file is in, its second not yet
            os.kill(os.getpid(), signal.SIGKILL)

    history._insert_verdict = insert_then_die
    sys.exit(main(sys.argv[1:]))
    """
)


@pytest.mark.slow  # a real watch process: ≈ 4 s of imports
def test_a_killed_watch_restarts_losing_and_duplicating_nothing(
    qrun: Path, tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    folder, history = tmp_path / "incoming", tmp_path / "history.sqlite"
    folder.mkdir()
    for index in range(5):
        write_h5(folder / f"run9_ls{10 * index + 1:04d}.h5", maps(2, seed=20 + index))
        time.sleep(0.01)  # distinct modification times: the files' order
    args = ["dqm", "watch", str(folder), "--run", str(qrun), "--history", str(history)]
    args += ["--once", "--interval", "0"]
    argv = [sys.executable, "-c", KILL_INSIDE_A_TRANSACTION, *args]
    killed = subprocess.run(argv, env=_env(), capture_output=True, text=True, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert [row[3] for row in recorded(history)] == [1, 2, 11, 12]  # two whole files, no more

    result = cli(*args)
    assert result.code == 0, result.err
    assert "3 files, 6 maps recorded" in result.out
    rows = recorded(history)
    assert [(row[0], row[1], row[3]) for row in rows] == [
        (f"run9_ls{10 * i + 1:04d}.h5", str(m), 10 * i + 1 + m) for i in range(5) for m in (0, 1)
    ]
    assert cli(*args).out.count("0 files, 0 maps recorded") == 1  # a third run adds nothing


def test_a_file_still_growing_is_left_until_it_settles(qrun: Path, tmp_path: Path) -> None:
    from heplearn.dqm.history import open_history
    from heplearn.dqm.watch import Watcher

    folder = tmp_path / "incoming"
    folder.mkdir()
    data = write_h5(tmp_path / "whole.h5", maps(1, seed=3)).read_bytes()
    growing = folder / "run3_ls0001.h5"
    with open_history(tmp_path / "h.sqlite", create=True) as history:
        watcher = Watcher(folder, qrun, history, log=lambda _line: None)
        growing.write_bytes(data[:1000])
        (folder / "empty.h5").write_bytes(b"")
        (folder / "run3_ls0002.h5.tmp").write_bytes(data)
        (folder / "notes.txt").write_text("not a map file")
        assert watcher.poll() == []  # first sight
        with growing.open("ab") as handle:
            handle.write(data[1000:2000])
        assert watcher.poll() == []  # it grew since
        growing.write_bytes(data)
        assert watcher.poll() == []
        outcomes = watcher.poll()  # unchanged over one interval: taken
        assert [o.path.name for o in outcomes] == ["run3_ls0001.h5"]
        assert [m.verdict != "unreadable" for m in outcomes[0].maps] == [True]
        assert watcher.poll() == []  # never twice
        assert [row[0] for row in recorded(tmp_path / "h.sqlite")] == ["run3_ls0001.h5"]


def test_once_checks_new_and_changed_files_and_names_runs(
    qrun: Path, tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    folder, history = tmp_path / "incoming", tmp_path / "h.sqlite"
    folder.mkdir()
    stack = maps(3, seed=5)
    stack[1, 2:5, 3:6] = 0.0  # a dead 3 × 3 region
    write_h5(folder / "fill-a.h5", stack)
    write_root(folder / "DQM_V0001_R000355100__hcal.root", {"lumi_42": maps(1, 6)[0]})
    args = [
        "dqm",
        "watch",
        folder,
        "--run",
        qrun,
        "--history",
        history,
        "--once",
        "--interval",
        "0",
    ]
    result = cli(*args, "--cms-run", "12")
    assert result.code == 0, result.err
    rows = recorded(history)
    assert [(r[2], r[3], r[4] if r[4] in ("dead", "unreadable") else "ok") for r in rows] == [
        (12, 1, "ok"),
        (12, 2, "dead"),
        (12, 3, "ok"),
        (12, 42, "ok"),
    ]
    assert cli(*args).out.startswith("watching") and len(recorded(history)) == 4  # seen: skipped
    write_h5(folder / "fill-a.h5", maps(1, seed=7))  # new content under the same name
    result = cli(*args)
    assert "skipped fill-a.h5: no run number" in result.out
    assert len(recorded(history)) == 4  # not recorded: a rerun with --cms-run checks it
    assert "1 files, 1 maps recorded" in cli(*args, "--cms-run", "13").out
    assert recorded(history)[-1][2:] == (13, 1, recorded(history)[-1][4])
    result = cli("dqm", "history", "--history", history, "--cms-run", "12", "--json")
    listed = json.loads(result.out)
    assert [v["lumisection"] for v in listed] == [1, 2, 3, 42]
    assert listed[1]["flagged"] and listed[1]["model"] == "qtest" and listed[1]["checked_at"]
    (folder / "run13_ls0005.root").write_bytes(b"\x00" * 3000)  # garbage
    assert "run 13 ls 5 run13_ls0005.root: unreadable (" in cli(*args).out
    listed = json.loads(cli("dqm", "history", "--history", history, "--json").out)
    assert listed[-1]["verdict"] == "unreadable" and "run13_ls0005.root" in listed[-1]["reason"]
    assert "dead" in cli("dqm", "history", "--history", history).out


def test_bad_inputs_are_one_error_and_write_nothing(
    qrun: Path, tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    folder = tmp_path / "incoming"
    history = tmp_path / "h.sqlite"
    watch = ["dqm", "watch", "--run", qrun, "--history", history, "--once"]
    assert_one_error(cli(*watch, folder), "watch folder not found", str(folder))
    folder.mkdir()
    assert_one_error(
        cli(*watch[:2], folder, "--run", tmp_path, "--history", history), "not a DQM run"
    )
    assert not history.exists()
    history.write_text("a shifter's notes, not a history\n")
    assert_one_error(cli(*watch, folder), "not a heplearn history", str(history))
    assert_one_error(cli("dqm", "history", "--history", history), "not a heplearn history")
    assert history.read_text() == "a shifter's notes, not a history\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.sqlite", "incoming"]
