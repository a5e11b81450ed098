"""``heplearn dqm certify``: the good-lumisection JSON from verdicts and audited overrides."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from heplearn.dqm.certify import golden_json, merge_ranges, parse_override
from heplearn.dqm.history import FileEntry, MapEntry, open_history
from heplearn.errors import ConfigError

from conftest import CliResult, assert_one_error

#: (run, lumisection, verdict) as a watcher would have recorded them, in order.
VERDICTS = [
    *((355100, ls, "good") for ls in range(1, 11)),
    (355100, 4, "hot"),  # re-checked later: the latest verdict counts
    (355100, 7, "unreadable"),
    (355100, 12, "good"),
    (355100, 13, "no-statistics"),
    (355100, 14, "good"),
    (9, 1, "dead"),  # a run without a good lumisection is left out
    (355099, 3, "good"),
]


def _history(path: Path) -> Path:
    with open_history(path, create=True) as history:
        for index, (run, ls, verdict) in enumerate(VERDICTS):
            entry = FileEntry(f"/maps/{index}.root", f"{index:064d}", 10, index, "checked")
            history.record_file(entry, [MapEntry(f"ls{ls}", run, ls, verdict, 1.0, "qtest", "q")])
    return path


def test_ranges_are_merged_and_sorted() -> None:
    assert merge_ranges([5, 1, 2, 3, 9, 8, 3]) == [[1, 3], [5, 5], [8, 9]]
    assert merge_ranges([]) == []
    assert json.loads(golden_json({20: {2, 1}, 3: {7}})) == {"3": [[7, 7]], "20": [[1, 2]]}
    assert list(json.loads(golden_json({20: {1}, 3: {7}}))) == ["3", "20"]  # numeric order
    assert golden_json({}) == "{}\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("355100:42=bad", (355100, 42, 42, "bad")), (" 7:3-5 = GOOD", (7, 3, 5, "good"))],
)
def test_overrides_parse(text: str, expected: tuple[int, int, int, str]) -> None:
    assert parse_override(text).as_row() == expected


@pytest.mark.parametrize(
    "text", ["355100=bad", "355100:42", "355100:42=maybe", "x:1=good", "7:5-3=bad", "7:0=good"]
)
def test_malformed_overrides_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="--override"):
        parse_override(text)


def test_certify_merges_ranges_and_applies_overrides_with_audit(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    history = _history(tmp_path / "h.sqlite")
    golden = tmp_path / "golden.json"
    result = cli("dqm", "certify", "--history", history, "--out", golden)
    assert result.code == 0, result.err
    assert json.loads(golden.read_text()) == {
        "355099": [[3, 3]],
        "355100": [[1, 3], [5, 6], [8, 10], [12, 12], [14, 14]],
    }
    override = ["dqm", "certify", "--history", history]
    first = cli(*override, "--override", "355100:7=good", "--override", "355100:9-12=bad",
                "--comment", "HV trip in HB+", "--who", "alice")  # fmt: skip
    assert first.code == 0, first.err
    second = cli(*override, "--override", "355100:10=good", "--comment", "recovered")
    assert second.code == 0, second.err
    assert cli(*override, "--out", golden).code == 1  # exists: refused without --overwrite
    assert cli(*override, "--out", golden, "--overwrite").code == 0
    assert json.loads(golden.read_text()) == {
        "355099": [[3, 3]],
        "355100": [[1, 3], [5, 8], [10, 10], [14, 14]],
    }
    audit = json.loads(cli("dqm", "history", "--history", history, "--overrides", "--json").out)
    assert [(a["first_ls"], a["last_ls"], a["decision"], a["who"]) for a in audit] == [
        (7, 7, "good", "alice"),
        (9, 12, "bad", "alice"),
        (10, 10, "good", audit[2]["who"]),
    ]
    assert audit[0]["comment"] == "HV trip in HB+" and audit[0]["at"] == audit[1]["at"]
    assert audit[2]["who"] and audit[2]["comment"] == "recovered"
    table = cli("dqm", "history", "--history", history, "--overrides").out
    assert "alice" in table and "HV trip" in table


def test_bad_certify_inputs_record_and_write_nothing(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    history = _history(tmp_path / "h.sqlite")
    before = history.read_bytes()
    golden = tmp_path / "golden.json"
    certify = ["dqm", "certify", "--history", history]
    assert_one_error(
        cli(*certify, "--override", "355100:4=fine", "--comment", "x", "--out", golden),
        "malformed --override '355100:4=fine'",
    )
    assert_one_error(cli(*certify, "--override", "355100:4=good"), "without a comment")
    assert_one_error(cli(*certify), "nothing to do")
    golden.write_text("previous")
    assert_one_error(
        cli(*certify, "--override", "355100:4=good", "--comment", "x", "--out", golden),
        "output exists",
    )
    assert golden.read_text() == "previous"
    with open_history(history) as opened:
        assert opened.overrides() == []
    assert history.read_bytes() == before
    missing = tmp_path / "none.sqlite"
    new = tmp_path / "new.json"
    assert_one_error(cli("dqm", "certify", "--history", missing, "--out", new), str(missing))
    assert not missing.exists() and not new.exists()
