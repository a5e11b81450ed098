"""A store's own config that fails to parse is reported, not silently ignored."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from heplearn.data.writer import StoreWriter
from heplearn.search.signal_points import StoreConfigWarning, declared_signal


def _store(path: Path, config: str | None) -> Path:
    provenance = {"seed": 1} if config is None else {"seed": 1, "config": config}
    with StoreWriter(path, provenance=provenance) as writer:
        writer.append({"event/id": np.arange(3, dtype=np.int64)})
    return path


def test_a_broken_search_config_is_named_with_its_reason(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.h5", "kind: search-sample\nsamples: 3\n")
    with pytest.warns(StoreConfigWarning) as caught:
        assert declared_signal(store) == set()
    message = str(caught[0].message)
    assert str(store) in message and "samples" in message, message


@pytest.mark.parametrize("config", [None, "kind: import-mapping\nfields: {}\n"])
def test_an_imported_store_falls_back_quietly(tmp_path: Path, config: str | None) -> None:
    store = _store(tmp_path / "s.h5", config)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert declared_signal(store) == set()
