"""``search study --vary``: keys by dotted path, values as YAML, combinations, clear errors."""

from __future__ import annotations

import pytest

from heplearn.errors import ConfigError
from heplearn.search.study_variants import config_fields, parse_vary, study_variants
from heplearn.search.train_config import SearchTrainConfig


def test_every_value_gives_one_checked_config() -> None:
    vary = parse_vary(["weights.scheme=none,mc,count-balance,weight-balance"])
    variants = study_variants(SearchTrainConfig(sigma_b=0.2), vary, "train.yaml")
    assert [v.config.weights.scheme for v in variants] == [
        "none",
        "mc",
        "count-balance",
        "weight-balance",
    ]
    assert [v.name for v in variants][1] == "weights.scheme=mc"
    # Everything not varied stays as in the base config.
    assert {v.config.sigma_b for v in variants} == {0.2}
    assert {v.config.weights.negative for v in variants} == {"clip"}


def test_values_are_yaml_and_keys_combine() -> None:
    vary = parse_vary(["models.nn.hidden_layers=1,3", "padding=thesis,mean"])
    variants = study_variants(SearchTrainConfig(), vary, "train.yaml")
    assert len(variants) == 4
    assert [(v.config.models.nn.hidden_layers, v.config.padding) for v in variants] == [
        (1, "thesis"),
        (1, "mean"),
        (3, "thesis"),
        (3, "mean"),
    ]
    assert variants[3].name == "models.nn.hidden_layers=3+padding=mean"
    assert variants[3].settings == {"models.nn.hidden_layers": 3, "padding": "mean"}


def test_an_unknown_key_names_the_closest_field() -> None:
    with pytest.raises(ConfigError, match=r"'weights\.schem'.*did you mean 'weights\.scheme'"):
        parse_vary(["weights.schem=mc,none"])
    # A bare leaf name points to its full path.
    with pytest.raises(ConfigError, match=r"did you mean 'models\.nn\.hidden_layers'"):
        parse_vary(["hidden_layers=1,3"])
    assert "models.nn.trainer.epochs" in config_fields()


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["weights.scheme"], "not KEY=v1,v2"),
        (["weights.scheme=mc,"], "not KEY=v1,v2"),
        (["padding=thesis", "padding=mean"], "given twice"),
        (["padding=mean,mean"], "repeated"),
        ([], "no variation"),
    ],
)
def test_a_malformed_vary_is_one_error(specs: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_vary(specs)


def test_a_value_the_field_does_not_take_is_refused_before_any_run() -> None:
    with pytest.raises(ConfigError, match=r"weights\.scheme.*with --vary weights\.scheme=raw"):
        study_variants(SearchTrainConfig(), parse_vary(["weights.scheme=mc,raw"]), "train.yaml")
    with pytest.raises(ConfigError, match="outside the allowed range"):
        study_variants(SearchTrainConfig(), parse_vary(["sigma_b=0.1,-1"]), "train.yaml")
