"""The variants of ``heplearn search study``: ``--vary KEY=v1,v2,…`` applied to a search config.

``KEY`` is any field of the ``search-train`` config by its dotted path (``weights.scheme``,
``padding``, ``models.nn.hidden_layers``, ``models.nn.normalisation``).  Each value is read
as YAML (``3`` an integer, ``null`` None, ``none`` the string), put into the config and the
whole config checked again, so a value out of range fails as in a config file.  Several
``--vary`` options give every combination.  Everything is checked before anything is
written: an unknown key names the closest field.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

import yaml

from heplearn.errors import ConfigError
from heplearn.search.train_config import SearchTrainConfig
from heplearn.training import config_paths as paths

__all__ = ["Variant", "config_fields", "parse_vary", "study_variants", "with_settings"]

#: Characters kept in a variant's folder name (others become ``_``).
_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]")


@dataclass(frozen=True)
class Variant:
    """One run of a study: its folder name, the values it sets and its full config."""

    name: str
    settings: dict[str, Any]
    config: SearchTrainConfig


def config_fields(cls: type[Any] = SearchTrainConfig, prefix: str = "") -> list[str]:
    """Every settable field of ``cls`` by dotted path (sections and their leaves)."""
    return paths.config_fields(cls, prefix)


def _check_key(key: str, where: str) -> None:
    paths.check_key(
        key,
        SearchTrainConfig,
        what="--vary key",
        where=where,
        example="weights.scheme, models.nn.hidden_layers",
    )


def parse_vary(specs: list[str]) -> list[tuple[str, list[Any]]]:
    """``["KEY=v1,v2", …]`` → ``[(KEY, [v1, v2]), …]``; a ConfigError for a malformed option."""
    parsed: list[tuple[str, list[Any]]] = []
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip()
        items = [v.strip() for v in values.split(",")] if sep else []
        if not key or not items or any(not v for v in items):
            raise ConfigError(
                f"--vary '{spec}'",
                "the command line",
                "it is not KEY=v1,v2,… with non-empty values",
                "write e.g. --vary weights.scheme=none,mc,count-balance,weight-balance",
            )
        _check_key(key, f"--vary {spec}")
        if key in (k for k, _ in parsed):
            raise ConfigError(
                f"--vary key '{key}'",
                "the command line",
                "it is given twice",
                "list all its values in one --vary KEY=v1,v2,…",
            )
        if len(set(items)) != len(items):
            raise ConfigError(
                f"--vary '{spec}'", "the command line", "a value is repeated", "list each once"
            )
        parsed.append((key, [yaml.safe_load(v) for v in items]))
    if not parsed:
        raise ConfigError(
            "option --vary",
            "the command line",
            "no variation was given",
            "add e.g. --vary weights.scheme=mc,weight-balance",
        )
    return parsed


def _label(value: Any) -> str:
    return paths.value_label(value)


def with_settings(
    base: SearchTrainConfig, settings: dict[str, Any], where: str
) -> SearchTrainConfig:
    """``base`` with each dotted-path field of ``settings`` set, the whole config checked."""
    return paths.with_settings(base, settings, where)


def study_variants(
    base: SearchTrainConfig, vary: list[tuple[str, list[Any]]], where: str
) -> list[Variant]:
    """One :class:`Variant` per value (per combination of values), each config checked."""
    variants: list[Variant] = []
    keys = [key for key, _ in vary]
    for combination in itertools.product(*(values for _, values in vary)):
        settings = dict(zip(keys, combination, strict=True))
        text = ", ".join(f"{k}={_label(v)}" for k, v in settings.items())
        config = with_settings(base, settings, f"{where} with --vary {text}")
        name = "+".join(_UNSAFE.sub("_", f"{k}={_label(v)}") for k, v in settings.items())
        variants.append(Variant(name, settings, config))
    return variants
