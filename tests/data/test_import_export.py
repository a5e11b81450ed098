"""ROOT/CSV/HDF5 import and ROOT export: values, names, chunking, mappings and bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import h5py
import numpy as np
import pandas as pd
import pytest
import uproot

from heplearn.config import parse_config
from heplearn.data import ImportMapping, export_root, import_file, open_store, write_store
from heplearn.errors import ConfigError, DataError, OutputExistsError

from conftest import assert_columns_equal


def ntuple(path: Path, n: int = 1000, trees: tuple[str, ...] = ("egamma",)) -> dict[str, Any]:
    """An ATLAS-style ntuple in MeV: flat, fixed-size array and jagged branches."""
    rng = np.random.default_rng(11)
    counts = rng.integers(0, 5, n)
    branches = {
        "p_truth_E": rng.uniform(5e3, 3e5, n).astype(np.float32),
        "p_eAccCluster": rng.uniform(5e3, 3e5, n).astype(np.float64),
        "p_eta": rng.uniform(-2.5, 2.5, n).astype(np.float32),
        "runNumber": rng.integers(1, 10, n).astype(np.int32),
        "em_barrel_Lr2": rng.exponential(1.0, (n, 7, 11)).astype(np.float32),
        "tracks_pt": ak.unflatten(rng.exponential(5.0, int(counts.sum())), counts),
    }
    types = {
        name: (np.asarray(v).dtype if name != "tracks_pt" else "var * float64")
        for name, v in branches.items()
    }
    types["em_barrel_Lr2"] = np.dtype((np.float32, (7, 11)))
    with uproot.recreate(path) as handle:
        for tree in trees:
            handle.mktree(tree, types)
            handle[tree].extend(branches)
    return branches


def test_root_import_keeps_every_branch_under_extra(tmp_path: Path) -> None:
    branches = ntuple(tmp_path / "n.root")
    summary = import_file(tmp_path / "n.root", tmp_path / "s.h5", step_rows=300)
    store = open_store(tmp_path / "s.h5")
    assert store.rows == 1000 == summary.rows
    data = store.read()
    np.testing.assert_array_equal(data["extra/p_truth_E"], branches["p_truth_E"])
    np.testing.assert_array_equal(data["extra/em_barrel_Lr2"], branches["em_barrel_Lr2"])
    assert data["extra/em_barrel_Lr2"].dtype == np.float32
    assert ak.to_list(data["extra/tracks_pt"]) == ak.to_list(branches["tracks_pt"])
    assert "extra/ntracks_pt" in data  # a user's counter is data too: kept
    assert store.provenance["tree"] == "egamma"


def test_chunk_size_does_not_change_the_result(tmp_path: Path) -> None:
    ntuple(tmp_path / "n.root")
    import_file(tmp_path / "n.root", tmp_path / "a.h5", step_rows=1000)
    import_file(tmp_path / "n.root", tmp_path / "b.h5", step_rows=77)
    assert_columns_equal(open_store(tmp_path / "a.h5").read(), open_store(tmp_path / "b.h5").read())


def test_mapping_renames_and_converts_units(tmp_path: Path) -> None:
    branches = ntuple(tmp_path / "n.root")
    mapping = parse_config(
        ImportMapping,
        {
            "fields": {"truth/energy": "p_truth_E", "scalars/eta": "p_eta"},
            "scale": {"truth/energy": 0.001},
            "keep_unmapped": False,
        },
    )
    import_file(tmp_path / "n.root", tmp_path / "s.h5", mapping=mapping)
    data = open_store(tmp_path / "s.h5").read()
    assert sorted(data) == ["scalars/eta", "truth/energy"]
    np.testing.assert_allclose(data["truth/energy"], branches["p_truth_E"] * 0.001, rtol=1e-6)
    assert data["truth/energy"].dtype == np.float32


def test_mapping_to_a_missing_branch_suggests_close_names(tmp_path: Path) -> None:
    ntuple(tmp_path / "n.root")
    mapping = parse_config(ImportMapping, {"fields": {"truth/energy": "p_truthE"}})
    with pytest.raises(ConfigError, match=r"column 'p_truthE' is not in the input.*p_truth_E"):
        import_file(tmp_path / "n.root", tmp_path / "s.h5", mapping=mapping)
    assert not (tmp_path / "s.h5").exists()


def test_tree_choice(tmp_path: Path) -> None:
    ntuple(tmp_path / "two.root", n=10, trees=("egamma", "photons"))
    with pytest.raises(DataError, match=r"2 TTrees \(egamma, photons\).*--tree"):
        import_file(tmp_path / "two.root", tmp_path / "s.h5")
    with pytest.raises(DataError, match=r"tree 'electrons' not found.*egamma, photons"):
        import_file(tmp_path / "two.root", tmp_path / "s.h5", tree="electrons")
    assert import_file(tmp_path / "two.root", tmp_path / "s.h5", tree="photons").rows == 10


def test_truncated_root_file_is_one_clear_error(tmp_path: Path) -> None:
    ntuple(tmp_path / "n.root")
    data = (tmp_path / "n.root").read_bytes()
    (tmp_path / "cut.root").write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(DataError, match=f"truncated ROOT file.*header says {len(data)}"):
        import_file(tmp_path / "cut.root", tmp_path / "s.h5")
    assert not (tmp_path / "s.h5").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_unrecognised_format(tmp_path: Path) -> None:
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(DataError, match="not a ROOT file, an HDF5 file, or a CSV file"):
        import_file(tmp_path / "x.png", tmp_path / "s.h5")


def test_csv_import_with_nan_refused_unless_allowed(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"pt1": [10.0, np.nan, 30.0, np.inf], "n": [1, 2, 3, 4], "label": ["a", "b", "c", "d"]}
    )
    frame.to_csv(tmp_path / "e.csv", index=False)
    with pytest.raises(DataError, match=r"column 'pt1' \(2\).*--allow-nan"):
        import_file(tmp_path / "e.csv", tmp_path / "s.h5")
    assert not (tmp_path / "s.h5").exists()
    summary = import_file(tmp_path / "e.csv", tmp_path / "s.h5", allow_nan=True, step_rows=3)
    assert summary.skipped == ["label"]
    assert summary.nonfinite == {"extra/pt1": 2}
    data = open_store(tmp_path / "s.h5").read()
    np.testing.assert_array_equal(data["extra/n"], [1, 2, 3, 4])


def test_csv_text_in_numeric_column_names_the_line(tmp_path: Path) -> None:
    lines = ["a,b"] + [f"{i},{i * 0.5}" for i in range(1100)] + ["oops,1.0"]
    (tmp_path / "e.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"column 'a'.*e\.csv"):
        import_file(tmp_path / "e.csv", tmp_path / "s.h5", step_rows=500)


def test_plain_hdf5_import(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "deepcalo.h5", "w") as handle:
        handle["train/images/em_barrel"] = np.ones((6, 56, 11, 4), np.float32)
        handle["train/p_e"] = np.arange(6.0)
        handle["meta/lumi"] = np.arange(2.0)  # another event count: not a column
    summary = import_file(tmp_path / "deepcalo.h5", tmp_path / "s.h5", step_rows=4)
    assert sorted(summary.fields) == ["extra/train_images_em_barrel", "extra/train_p_e"]
    assert summary.skipped == ["meta/lumi"]


def test_export_round_trips_exactly_through_uproot(tmp_path: Path, columns: dict[str, Any]) -> None:
    store = write_store(tmp_path / "s.h5", columns, provenance={})
    export_root(store, tmp_path / "s.root", batch_size=5)
    tree = uproot.open(tmp_path / "s.root")["events"]
    assert tree.num_entries == 12
    np.testing.assert_array_equal(tree["truth_energy"].array(library="np"), columns["truth/energy"])
    np.testing.assert_array_equal(tree["images_lr2"].array(library="np"), columns["images/lr2"])
    assert ak.to_list(tree["tracks_pt"].array()) == ak.to_list(columns["tracks/pt"])
    # and back into a store under the original field names
    import_file(tmp_path / "s.root", tmp_path / "back.h5")
    assert_columns_equal(open_store(tmp_path / "back.h5").read(), columns)


def test_export_refuses_existing_output(tmp_path: Path, columns: dict[str, Any]) -> None:
    store = write_store(tmp_path / "s.h5", columns, provenance={})
    (tmp_path / "s.root").write_text("keep")
    with pytest.raises(OutputExistsError):
        export_root(store, tmp_path / "s.root")
    assert (tmp_path / "s.root").read_text() == "keep"


def test_interrupted_import_leaves_nothing_and_rerun_matches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ntuple(tmp_path / "n.root")
    import_file(tmp_path / "n.root", tmp_path / "clean.h5", step_rows=100)
    from heplearn.data import writer

    original = writer.StoreWriter.append
    calls = {"n": 0}

    def append_then_interrupt(self: writer.StoreWriter, cols: dict[str, Any]) -> None:
        original(self, cols)
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(writer.StoreWriter, "append", append_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        import_file(tmp_path / "n.root", tmp_path / "s.h5", step_rows=100)
    assert not (tmp_path / "s.h5").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    monkeypatch.undo()
    import_file(tmp_path / "n.root", tmp_path / "s.h5", step_rows=100)
    assert_columns_equal(
        open_store(tmp_path / "s.h5").read(), open_store(tmp_path / "clean.h5").read()
    )


def test_rntuple_import(tmp_path: Path) -> None:
    with uproot.recreate(tmp_path / "r.root") as handle:
        handle["events"] = {"e": np.arange(4.0), "hits": ak.Array([[1.0], [], [2.0, 3.0], [4.0]])}
    assert uproot.open(tmp_path / "r.root").classnames() == {"events;1": "ROOT::RNTuple"}
    import_file(tmp_path / "r.root", tmp_path / "s.h5")
    data = open_store(tmp_path / "s.h5").read()
    assert ak.to_list(data["extra/hits"]) == [[1.0], [], [2.0, 3.0], [4.0]]
