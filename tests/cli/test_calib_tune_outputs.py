"""``calib tune``: study.db is written in place by design (a killed study resumes from it);
best-bdt.yaml, its result, appears whole or not at all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import CliResult

FAST_BDT = """kind: calib-train
network: none
bdt: {n_estimators: 10, learning_rate: 0.3}
"""
PREVIOUS = "the previous best config, which must survive\n"


class InjectedError(RuntimeError):
    """The failure the test injects while best-bdt.yaml is written."""


def test_a_failure_writing_the_best_config_keeps_the_previous_and_the_study(
    cli: Callable[..., CliResult],
    gun_store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "fast.yaml").write_text(FAST_BDT)
    out = tmp_path / "tune"
    args = ["calib", "tune", "-d", gun_store, "-o", out, "-c", tmp_path / "fast.yaml"]
    out.mkdir()
    (out / "best-bdt.yaml").write_text(PREVIOUS)
    write_text = Path.write_text

    def half_then_fail(self: Path, text: str, *a: Any, **k: Any) -> int:
        if self.name.startswith(".best-bdt.yaml.tmp-"):
            write_text(self, text[: len(text) // 2], *a, **k)
            raise InjectedError("killed half-way through best-bdt.yaml")
        return write_text(self, text, *a, **k)

    monkeypatch.setattr(Path, "write_text", half_then_fail)
    assert cli(*args, "-n", "2").code == 1
    monkeypatch.undo()
    assert (out / "best-bdt.yaml").read_text() == PREVIOUS
    assert sorted(p.name for p in out.iterdir()) == ["best-bdt.yaml", "study.db"]

    result = cli(*args, "-n", "3")  # the study resumes: one more trial, then the new result
    assert result.code == 0, result.err
    assert "3 trials (1 new" in result.out
    assert "kind: calib-train" in (out / "best-bdt.yaml").read_text()
    assert sorted(p.name for p in out.iterdir()) == ["best-bdt.yaml", "study.db"]
