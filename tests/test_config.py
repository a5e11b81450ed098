from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
import yaml

from heplearn.config import dump_config, load_config, parse_config, register_config, setting
from heplearn.errors import ConfigError


@dataclass(frozen=True)
class Inner:
    width: float = setting(1.0, low=0.0, high=10.0)


@register_config("test-thing")
@dataclass(frozen=True)
class Thing:
    events: int = setting(100, low=1, high=1000)
    name: str = "x"
    mode: Literal["fast", "full"] = "fast"
    pt_range: tuple[float, float] = setting((5.0, 300.0), low=0.0)
    inner: Inner = setting(Inner())
    weights: dict[str, float] = setting({})
    label: str | None = None


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_defaults_and_values_are_typed(tmp_path: Path) -> None:
    cfg = load_config(Thing, write(tmp_path, "events: 7\npt_range: [1, 2]\ninner: {width: 3}\n"))
    assert cfg.events == 7
    assert cfg.pt_range == (1.0, 2.0)
    assert cfg.inner == Inner(width=3.0)
    assert cfg.mode == "fast"


def test_unknown_key_names_key_file_and_closest(tmp_path: Path) -> None:
    path = write(tmp_path, "evnts: 7\n")
    with pytest.raises(ConfigError) as info:
        load_config(Thing, path)
    message = info.value.message
    assert "unknown key 'evnts'" in message
    assert str(path) in message
    assert "did you mean 'events'" in message


def test_unknown_nested_key_has_its_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"inner\.widht.*did you mean 'inner\.width'"):
        load_config(Thing, write(tmp_path, "inner: {widht: 2}\n"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("events: many\n", r"field 'events'.*expected an integer"),
        ("events: 0\n", r"field 'events'.*outside the allowed range \[1, 1000\]"),
        ("events: 2.5\n", r"expected an integer"),
        ("inner: {width: 11}\n", r"field 'inner\.width'.*\[0\.0, 10\.0\]"),
        ("mode: quick\n", r"field 'mode'.*not one of the allowed values"),
        ("pt_range: [1, 2, 3]\n", r"field 'pt_range'.*list of 2 values"),
        ("pt_range: [-1, 2]\n", r"outside the allowed range"),
        ("kind: other\n", r"expects 'kind: test-thing'"),
    ],
)
def test_wrong_type_or_range_names_field_and_allowed(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config(Thing, write(tmp_path, text))


def test_invalid_yaml_reports_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"invalid YAML in .*line 2"):
        load_config(Thing, write(tmp_path, "events: 1\n  bad: [\n"))


def test_dump_round_trips_the_resolved_config() -> None:
    cfg = parse_config(Thing, {"events": 9, "weights": {"a": 2.0}, "label": "z"})
    text = dump_config(cfg)
    assert yaml.safe_load(text)["kind"] == "test-thing"
    assert parse_config(Thing, yaml.safe_load(text)) == cfg


def test_configs_are_frozen() -> None:
    cfg = parse_config(Thing, {})
    with pytest.raises(AttributeError):
        cfg.events = 3  # type: ignore[misc]
