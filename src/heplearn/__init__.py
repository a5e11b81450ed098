"""heplearn: machine learning on collider-detector data.

Three workflows share one data layer: ``calib`` (e/γ energy regression),
``dqm`` (calorimeter data-quality monitoring) and ``search`` (signal versus
background for a dilepton + missing-energy search).
"""

from __future__ import annotations

__version__ = "0.1.0"

from heplearn.errors import ConfigError, DataError, HeplearnError, OutputExistsError, SchemaError

__all__ = [
    "ConfigError",
    "DataError",
    "HeplearnError",
    "OutputExistsError",
    "SchemaError",
    "__version__",
]
