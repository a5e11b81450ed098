"""``heplearn data`` commands, including every bad input of the foundation issue: one clear
error line, exit code 1, nothing overwritten and no half-written output left behind."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import uproot

from heplearn.data import write_store
from heplearn.data.schema import SCHEMA_VERSION

from conftest import CliResult, assert_one_error

Cli = Callable[..., CliResult]


def make_root(path: Path, n: int = 200) -> None:
    rng = np.random.default_rng(1)
    with uproot.recreate(path) as handle:
        handle.mktree("egamma", {"p_truth_E": np.float32, "p_eta": np.float32})
        handle["egamma"].extend(
            {
                "p_truth_E": rng.uniform(5e3, 1e5, n).astype(np.float32),
                "p_eta": rng.uniform(-2.5, 2.5, n).astype(np.float32),
            }
        )


def only_input(folder: Path, *names: str) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


def test_import_inspect_export(cli: Cli, tmp_path: Path) -> None:
    make_root(tmp_path / "n.root")
    assert cli("data", "import", tmp_path / "n.root", "--out", tmp_path / "s.h5").code == 0
    result = cli("data", "inspect", tmp_path / "s.h5", "--json")
    assert result.code == 0
    summary: dict[str, Any] = json.loads(result.out)
    assert summary["rows"] == 200
    assert summary["fields"]["extra/p_truth_E"] == {
        "dtype": "float32",
        "shape": [],
        "jagged": False,
    }
    assert summary["provenance"]["tree"] == "egamma"
    assert cli("data", "inspect", tmp_path / "s.h5").code == 0
    assert cli("data", "export", tmp_path / "s.h5", "--out", tmp_path / "s.root").code == 0
    tree = uproot.open(tmp_path / "s.root")["events"]
    assert tree.num_entries == 200


def test_mapping_file_from_the_command_line(cli: Cli, tmp_path: Path) -> None:
    make_root(tmp_path / "n.root")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "kind: import-mapping\nfields: {truth/energy: p_truth_E}\nscale: {truth/energy: 0.001}\n"
    )
    assert (
        cli(
            "data", "import", tmp_path / "n.root", "--out", tmp_path / "s.h5", "--mapping", mapping
        ).code
        == 0
    )
    summary = json.loads(cli("data", "inspect", tmp_path / "s.h5", "--json").out)
    assert set(summary["fields"]) == {"truth/energy", "extra/p_eta"}


def test_truncated_root(cli: Cli, tmp_path: Path) -> None:
    make_root(tmp_path / "n.root")
    data = (tmp_path / "n.root").read_bytes()
    (tmp_path / "n.root").write_bytes(data[: len(data) // 2])
    result = cli("data", "import", tmp_path / "n.root", "--out", tmp_path / "s.h5")
    assert_one_error(result, "truncated ROOT file", f"{len(data) // 2} bytes, header says")
    only_input(tmp_path, "n.root")


def test_not_a_known_format(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{}")
    result = cli("data", "import", tmp_path / "x.json", "--out", tmp_path / "s.h5")
    assert_one_error(result, "unrecognised file format", "x.json")
    only_input(tmp_path, "x.json")


def test_missing_tree_lists_the_available_ones(cli: Cli, tmp_path: Path) -> None:
    make_root(tmp_path / "n.root")
    result = cli(
        "data", "import", tmp_path / "n.root", "--out", tmp_path / "s.h5", "--tree", "photons"
    )
    assert_one_error(result, "tree 'photons' not found", "egamma", "--tree")
    only_input(tmp_path, "n.root")


@pytest.mark.parametrize(
    ("mapping", "fragments"),
    [
        (  # a mapping naming a missing branch: close names are suggested
            "fields: {truth/energy: p_truthE}",
            ("column 'p_truthE' is not in the input", "p_truth_E"),
        ),
        (  # an unknown config key: the nearest valid key is named
            "feilds: {truth/energy: p_truth_E}",
            ("unknown key 'feilds'", "m.yaml", "did you mean 'fields'"),
        ),
    ],
)
def test_bad_mapping(cli: Cli, tmp_path: Path, mapping: str, fragments: tuple[str, ...]) -> None:
    make_root(tmp_path / "n.root")
    (tmp_path / "m.yaml").write_text(f"kind: import-mapping\n{mapping}\n")
    out = tmp_path / "s.h5"
    result = cli(
        "data", "import", tmp_path / "n.root", "--out", out, "--mapping", tmp_path / "m.yaml"
    )
    assert_one_error(result, *fragments)
    only_input(tmp_path, "n.root", "m.yaml")


def test_store_with_missing_field_or_newer_schema(cli: Cli, tmp_path: Path) -> None:
    store = write_store(tmp_path / "s.h5", {"a/x": np.zeros(3), "a/y": np.ones(3)}, provenance={})
    with h5py.File(store, "r+") as handle:
        del handle["a/y"]
    assert_one_error(cli("data", "inspect", store), "missing field 'a/y'")
    assert_one_error(
        cli("data", "export", store, "--out", tmp_path / "s.root"), "missing field 'a/y'"
    )
    newer = write_store(tmp_path / "n.h5", {"a/x": np.zeros(3)}, provenance={})
    with h5py.File(newer, "r+") as handle:
        handle.attrs["heplearn_schema_version"] = SCHEMA_VERSION + 1
    assert_one_error(cli("data", "inspect", newer), "newer heplearn", "upgrade")
    assert not (tmp_path / "s.root").exists()


def test_nan_reported_then_allowed(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "e.csv").write_text("pt1,eta1\n10.0,0.1\nnan,0.2\ninf,0.3\n")
    result = cli("data", "import", tmp_path / "e.csv", "--out", tmp_path / "s.h5")
    assert_one_error(result, "NaN/inf", "'pt1' (2)", "--allow-nan")
    only_input(tmp_path, "e.csv")
    result = cli("data", "import", tmp_path / "e.csv", "--out", tmp_path / "s.h5", "--allow-nan")
    assert result.code == 0
    assert "kept NaN/inf" in result.out
    result = cli("data", "inspect", tmp_path / "s.h5", "--json", "--check-finite")
    assert json.loads(result.out)["nonfinite"] == {"extra/pt1": 2}


def test_existing_output_refused_unless_overwrite(cli: Cli, tmp_path: Path) -> None:
    make_root(tmp_path / "n.root")
    (tmp_path / "s.h5").write_text("precious")
    result = cli("data", "import", tmp_path / "n.root", "--out", tmp_path / "s.h5")
    assert_one_error(result, "output exists", "--overwrite")
    assert (tmp_path / "s.h5").read_text() == "precious"
    assert (
        cli("data", "import", tmp_path / "n.root", "--out", tmp_path / "s.h5", "--overwrite").code
        == 0
    )
    (tmp_path / "s.root").write_text("precious")
    assert_one_error(
        cli("data", "export", tmp_path / "s.h5", "--out", tmp_path / "s.root"), "output exists"
    )
    assert (tmp_path / "s.root").read_text() == "precious"
