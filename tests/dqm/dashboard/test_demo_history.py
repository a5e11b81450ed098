"""The demo's DQM history: held-out maps as lumisection files, watched once, served by dqm serve."""

from __future__ import annotations

from pathlib import Path

from dashboard_history import maps, train

from heplearn.dqm.demo_history import HISTORY, INCOMING, serve_command, write_demo_history
from heplearn.dqm.history import open_history
from heplearn.dqm.maps import MapSet


def test_the_demo_history_holds_every_map_once_and_prints_its_serve_command(
    tmp_path: Path,
) -> None:
    run = train(tmp_path)
    held_out = MapSet.from_counts(maps(20, seed=5))
    assert write_demo_history(tmp_path, run, held_out, cms_run=900_001) == 20
    with open_history(tmp_path / HISTORY) as history:
        recorded = history.verdicts(900_001)
    assert [v["lumisection"] for v in recorded] == list(range(1, 21))
    assert sorted(p.name for p in (tmp_path / INCOMING).iterdir())[0] == "run900001_ls0001.h5"
    assert write_demo_history(tmp_path, run, held_out, cms_run=900_001) == 0  # a rerun: nothing new
    command = serve_command(tmp_path)
    assert (
        command.startswith("heplearn dqm serve --history ") and str(tmp_path / HISTORY) in command
    )
