"""The public API is small and pinned: adding or removing a name is a deliberate change."""

import heplearn
import heplearn.data
import heplearn.detector
import heplearn.generate


def test_top_level_api() -> None:
    assert sorted(heplearn.__all__) == [
        "ConfigError",
        "DataError",
        "HeplearnError",
        "OutputExistsError",
        "SchemaError",
        "__version__",
    ]


def test_data_api() -> None:
    assert sorted(heplearn.data.__all__) == [
        "FieldSpec",
        "ImportMapping",
        "ImportSummary",
        "SCHEMA_VERSION",
        "ShardedWriter",
        "Store",
        "StoreWriter",
        "describe_store",
        "export_root",
        "import_file",
        "open_store",
        "write_store",
    ]


def test_generate_api() -> None:
    assert sorted(heplearn.generate.__all__) == [
        "CalibSampleConfig",
        "DqmSampleConfig",
        "EcalDqmSampleConfig",
        "SearchSampleConfig",
        "calib_dataset",
        "dqm_dataset",
        "ecal_dqm_dataset",
        "search_dataset",
    ]


def test_detector_api() -> None:
    assert sorted(heplearn.detector.__all__) == [
        "CalorimeterGeometry",
        "load_geometry",
        "shipped_geometries",
    ]


def test_every_public_name_exists() -> None:
    for module in (heplearn, heplearn.data, heplearn.detector, heplearn.generate):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
