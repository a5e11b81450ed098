"""Min-max and z-score normalisation fitted on the training split only, saved as JSON."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from heplearn.errors import ConfigError, DataError, OutputExistsError
from heplearn.search.normalisation import Normaliser, uses_batchnorm_layer


def _features(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.stack([rng.exponential(100.0, n), rng.normal(5.0, 2.0, n), np.full(n, 3.0)], axis=1)


NAMES = ("met", "met_significance", "constant")


def test_zscore_and_minmax_on_training_statistics() -> None:
    rng = np.random.default_rng(8)
    train, test = _features(rng, 5000), _features(rng, 5000)
    z = Normaliser.fit(train, NAMES, "zscore")
    scaled = z.transform(train)
    np.testing.assert_allclose(scaled[:, :2].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(scaled[:, :2].std(axis=0), 1.0, atol=1e-5)
    assert np.all(scaled[:, 2] == 0.0)  # constant column: scale 1, no division by zero
    m = Normaliser.fit(train, NAMES, "minmax")
    assert m.transform(train)[:, :2].min() == 0.0 and m.transform(train)[:, :2].max() == 1.0
    # Test events use the training offsets: not re-centred, and may leave [0, 1].
    assert abs(float(z.transform(test)[:, 0].mean())) < 0.1
    assert np.any(m.transform(test)[:, 0] > 1.0) or np.any(m.transform(test)[:, 0] < 0.0)


def test_batchnorm_and_none_pass_through() -> None:
    x = _features(np.random.default_rng(9), 10)
    for method in ("none", "batchnorm"):
        np.testing.assert_allclose(Normaliser.fit(x, NAMES, method).transform(x), x, rtol=1e-6)
    assert uses_batchnorm_layer("batchnorm") and not uses_batchnorm_layer("zscore")


def test_round_trip_and_errors(tmp_path: Path) -> None:
    x = _features(np.random.default_rng(10), 100)
    fitted = Normaliser.fit(x, NAMES, "zscore")
    path = fitted.save(tmp_path / "normaliser.json")
    assert Normaliser.load(path) == fitted
    with pytest.raises(OutputExistsError):
        fitted.save(path)
    with pytest.raises(ConfigError, match="normalisation 'robust'"):
        Normaliser.fit(x, NAMES, "robust")
    with pytest.raises(DataError, match="do not match"):
        fitted.transform(x, names=("a", "b", "c"))
    (tmp_path / "junk.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="not a heplearn normaliser file"):
        Normaliser.load(tmp_path / "junk.json")
