"""Fields of a config by dotted path: list them, check a key (naming the closest), set values.

What ``search study --vary``, ``search tune`` and ``calib study`` share: a study varies any
field of a training config by its dotted path (``weights.scheme``, ``deepcalo.film_inputs``,
``trainer.lr_max``); every varied config is put together as a dict and checked whole by
:func:`heplearn.config.parse_config`, so a value out of range fails as in a config file.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, TypeVar, Union

from heplearn.config import config_to_dict, parse_config
from heplearn.errors import ConfigError

__all__ = [
    "check_key",
    "config_fields",
    "field_type",
    "set_dotted",
    "value_label",
    "with_settings",
]

T = TypeVar("T")


def _unwrap(tp: Any) -> Any:
    """``X | None`` → ``X``; anything else unchanged."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def config_fields(cls: type[Any], prefix: str = "") -> list[str]:
    """Every settable field of ``cls`` by dotted path (sections, optional ones too, and leaves)."""
    names: list[str] = []
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        path = f"{prefix}{field.name}"
        names.append(path)
        tp = _unwrap(hints[field.name])
        if dataclasses.is_dataclass(tp):
            names += config_fields(typing.cast(type[Any], tp), f"{path}.")
    return names


def field_type(cls: type[Any], key: str) -> Any:
    """The annotated type of the field at dotted path ``key`` (``X | None`` unwrapped)."""
    tp: Any = cls
    for part in key.split("."):
        tp = _unwrap(typing.get_type_hints(tp)[part])
    return tp


def check_key(key: str, cls: type[Any], *, what: str, where: str, example: str) -> None:
    """A ConfigError naming the closest field unless ``key`` is a dotted field of ``cls``."""
    fields = config_fields(cls)
    if key in fields:
        return
    # Match on the whole path and on the last part, so 'hidden_layers' finds models.nn.…
    closest = difflib.get_close_matches(key, fields, n=1, cutoff=0.0)
    leaf = key.rpartition(".")[2]
    by_leaf = [f for f in fields if f.rpartition(".")[2] == leaf]
    guess = by_leaf[0] if by_leaf else (closest[0] if closest else fields[0])
    kind = getattr(cls, "kind", cls.__name__)
    raise ConfigError(
        f"{what} '{key}'",
        where,
        f"it is not a field of the {kind} config",
        f"did you mean '{guess}'? (dotted paths such as {example})",
    )


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``data[a][b][c] = value`` for ``key`` = ``a.b.c``; a missing or null section is
    created empty (it gets its defaults)."""
    *sections, leaf = key.split(".")
    target = data
    for section in sections:
        if not isinstance(target.get(section), dict):
            target[section] = {}
        target = target[section]
    target[leaf] = value


def with_settings(base: T, settings: dict[str, Any], where: str) -> T:
    """``base`` with each dotted-path field of ``settings`` set, the whole config checked."""
    data = config_to_dict(base)
    for key, value in settings.items():
        set_dotted(data, key, value)
    return parse_config(type(base), data, where)


def value_label(value: Any) -> str:
    """A short text for a value: ``null``, ``true``, ``3``, ``[scalars, tracks]``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_label(v) for v in value) + "]"
    return str(value)
