"""Reading the user's own maps: ROOT TH2 histograms via uproot, HDF5 stacks, and bad input."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import uproot

from heplearn.dqm.user_maps import read_user_maps
from heplearn.errors import DataError


def counts(n: int, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).poisson(50.0, (n, *shape)).astype(np.float64)


def write_th2(path: Path, maps: dict[str, np.ndarray]) -> None:
    with uproot.recreate(path) as out:
        for name, values in maps.items():
            h, w = values.shape
            out[name] = (values, np.arange(h + 1.0), np.arange(w + 1.0))


def test_root_th2_maps_in_file_order_with_values_layout(tmp_path: Path) -> None:
    data = counts(3, (17, 36))
    data[1, 4, 30] = 999.0  # a marked cell: x bin 5, y bin 31
    data[2] = 0.0  # an empty map is kept
    path = tmp_path / "maps.root"
    write_th2(path, {"ls_b": data[0], "ls_a": data[1], "ls_c": data[2]})
    maps = read_user_maps(path)
    assert maps.names == ["ls_b", "ls_a", "ls_c"]
    assert maps.shape == (17, 36, 1)
    np.testing.assert_array_equal(maps.counts[..., 0], data.astype(np.float32))
    assert maps.counts[1, 4, 30, 0] == 999.0
    # User maps carry no event count: n_events is the map total.
    np.testing.assert_allclose(maps.n_events, data.reshape(3, -1).sum(axis=1))
    assert maps.empty.tolist() == [False, False, True]
    assert maps.map_class is None and maps.channel_class is None


def test_root_without_th2_lists_its_content(tmp_path: Path) -> None:
    path = tmp_path / "tree.root"
    with uproot.recreate(path) as out:
        out.mktree("events", {"x": np.float64}).extend({"x": np.arange(5.0)})
        out["h1"] = (np.ones(4), np.arange(5.0))
    with pytest.raises(DataError, match="no TH2") as err:
        read_user_maps(path)
    assert "holds TTree events, TH1D h1" in str(err.value)


def test_root_maps_of_different_shapes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "mixed.root"
    write_th2(path, {"a": counts(1, (4, 5))[0], "b": counts(1, (5, 5))[0]})
    with pytest.raises(DataError, match=r"a \(4, 5\), b \(5, 5\)"):
        read_user_maps(path)


def test_negative_or_nan_counts_name_the_map(tmp_path: Path) -> None:
    data = counts(2, (6, 6))
    data[1, 0, :3] = -1.0
    path = tmp_path / "neg.root"
    write_th2(path, {"good": data[0], "broken": data[1]})
    with pytest.raises(DataError, match=r"map 'broken' has 3 bad channels \(3 negative\)"):
        read_user_maps(path)
    h5 = tmp_path / "nan.h5"
    stack = counts(4, (6, 6))
    stack[2, 1, 1] = np.nan
    with h5py.File(h5, "w") as f:
        f["maps"] = stack
    with pytest.raises(DataError, match=r"map '2' has 1 bad channels \(1 NaN/inf\)"):
        read_user_maps(h5)


def test_hdf5_single_and_several_datasets(tmp_path: Path) -> None:
    path = tmp_path / "one.h5"
    stack = counts(5, (10, 12, 3))
    with h5py.File(path, "w") as f:
        f["run/occupancy"] = stack
        f["run/lumi"] = np.ones(5)
    maps = read_user_maps(path)
    assert maps.shape == (10, 12, 3) and maps.names == ["0", "1", "2", "3", "4"]
    np.testing.assert_array_equal(maps.counts, stack.astype(np.float32))

    two = tmp_path / "two.h5"
    with h5py.File(two, "w") as f:
        f["ecal_barrel"] = counts(3, (17, 36))
        f["hcal"] = counts(3, (8, 7, 2))
    with pytest.raises(DataError, match="--dataset") as err:
        read_user_maps(two)
    assert "ecal_barrel (3, 17, 36)" in str(err.value) and "hcal (3, 8, 7, 2)" in str(err.value)
    assert read_user_maps(two, dataset="ecal_barrel").shape == (17, 36, 1)
    with pytest.raises(DataError, match="'missing' not found"):
        read_user_maps(two, dataset="missing")


def test_unsupported_files(tmp_path: Path) -> None:
    csv = tmp_path / "maps.csv"
    csv.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="unsupported map file"):
        read_user_maps(csv)
    with pytest.raises(DataError, match="not found"):
        read_user_maps(tmp_path / "nothing.root")
