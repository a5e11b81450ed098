"""Typed, frozen configs loaded from YAML.

A config is a frozen dataclass.  Its fields carry their allowed range or
choices in ``metadata`` (see :func:`setting`), so a file with a misspelt key,
a wrong type or an out-of-range value fails with an error that names the key,
the file, and the closest valid key or the allowed range.

Every shipped YAML file starts with ``kind: <name>``; :func:`load_any_config`
uses it to pick the dataclass registered with :func:`register_config`.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import yaml

from heplearn.errors import ConfigError

__all__ = [
    "config_to_dict",
    "dump_config",
    "load_any_config",
    "load_config",
    "parse_config",
    "register_config",
    "setting",
    "shipped_config",
]

T = TypeVar("T")

_REGISTRY: dict[str, type[Any]] = {}


def setting(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    doc: str = "",
) -> Any:
    """A dataclass field with a default, an inclusive range and a description."""
    metadata = {"low": low, "high": high, "doc": doc}
    if isinstance(default, (list, dict, set)):
        factory = type(default)(default)
        return dataclasses.field(default_factory=lambda: factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def register_config(kind: str) -> Callable[[type[T]], type[T]]:
    """Register a frozen dataclass as the schema for YAML files with ``kind: <kind>``."""

    def decorator(cls: type[T]) -> type[T]:
        _REGISTRY[kind] = cls
        cls.kind = kind  # type: ignore[attr-defined]
        return cls

    return decorator


def _closest(name: str, choices: list[str]) -> str:
    match = difflib.get_close_matches(name, choices, n=1, cutoff=0.0)
    return match[0] if match else "(none)"


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value: Any, tp: Any, where: str, path: str) -> Any:
    """Convert a YAML value to the annotated type, or raise ConfigError naming ``path``."""
    origin = get_origin(tp)
    args = get_args(tp)

    def wrong(expected: str) -> ConfigError:
        return ConfigError(
            f"field '{path}'",
            where,
            f"expected {expected}, got {value!r} ({type(value).__name__})",
            f"set '{path}' to {expected}",
        )

    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        errors = []
        for candidate in non_none:
            try:
                return _convert(value, candidate, where, path)
            except ConfigError as err:
                errors.append(err)
        raise errors[0]
    if origin is Literal:
        if value not in args:
            allowed = ", ".join(repr(a) for a in args)
            raise ConfigError(
                f"field '{path}'",
                where,
                f"{value!r} is not one of the allowed values ({allowed})",
                f"did you mean {_closest(str(value), [str(a) for a in args])!r}?",
            )
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise wrong(f"a mapping of {_type_name(tp)} settings")
        return _build(typing.cast(type[Any], tp), value, where, prefix=f"{path}.")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise wrong(f"a list ({_type_name(tp)})")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise wrong(f"a list of {len(args)} values")
            items = [
                _convert(v, a, where, f"{path}[{i}]")
                for i, (v, a) in enumerate(zip(value, args, strict=True))
            ]
        else:
            item_tp = args[0] if args else Any
            items = [_convert(v, item_tp, where, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise wrong("a mapping")
        key_tp, val_tp = args if args else (Any, Any)
        return {
            _convert(k, key_tp, where, f"{path}.{k}"): _convert(v, val_tp, where, f"{path}.{k}")
            for k, v in value.items()
        }
    if tp is bool:
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("an integer")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong("a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise wrong("a string")
        return value
    raise TypeError(f"config type {tp!r} of '{path}' is not supported")  # a bug, not user input


def _check_range(value: Any, field: dataclasses.Field[Any], where: str, path: str) -> None:
    low, high = field.metadata.get("low"), field.metadata.get("high")
    if low is None and high is None:
        return
    values = value if isinstance(value, (list, tuple)) else [value]
    for v in values:
        if not isinstance(v, (int, float)):
            continue
        if (low is not None and v < low) or (high is not None and v > high):
            allowed = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
            raise ConfigError(
                f"field '{path}'",
                where,
                f"value {v!r} is outside the allowed range {allowed}",
                f"choose a value of '{path}' in {allowed}",
            )


def _build(cls: type[T], data: Mapping[str, Any], where: str, prefix: str = "") -> T:
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            raise ConfigError(
                f"unknown key '{prefix}{key}'",
                where,
                f"{cls.__name__} has no setting of that name",
                f"did you mean '{prefix}{_closest(str(key), list(fields))}'?",
            )
    kwargs: dict[str, Any] = {}
    for name, field in fields.items():
        path = f"{prefix}{name}"
        if name not in data:
            no_default = (
                field.default is dataclasses.MISSING
                and field.default_factory is dataclasses.MISSING
            )
            if no_default:
                raise ConfigError(
                    f"missing key '{path}'", where, "it has no default", f"add '{path}: ...'"
                )
            continue
        value = _convert(data[name], hints[name], where, path)
        _check_range(value, field, where, path)
        kwargs[name] = value
    instance = cls(**kwargs)
    validate = getattr(instance, "validate", None)
    if callable(validate):
        validate(where)
    return instance


def parse_config(cls: type[T], data: Mapping[str, Any] | None, where: str = "<dict>") -> T:
    """Build a config from a mapping (e.g. parsed YAML), validating keys, types and ranges."""
    payload = dict(data or {})
    kind = getattr(cls, "kind", None)
    declared = payload.pop("kind", kind)
    if kind is not None and declared != kind:
        raise ConfigError(
            f"config kind '{declared}'",
            where,
            f"this command expects 'kind: {kind}'",
            "pass a config file of the right kind",
        )
    return _build(cls, payload, where)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError("config file not found", str(path), "no such file", "check the path")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(
            "not a YAML config", str(path), "it is not text", "give a YAML config file"
        ) from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            "invalid YAML", f"{path}{line}", str(getattr(err, "problem", err)), "fix the syntax"
        ) from err
    if data is None:  # an empty file is a mistake, not "all defaults"
        raise ConfigError(
            "empty config",
            str(path),
            "the file holds no settings",
            "start it with its kind and the settings to change (examples in configs/)",
        )
    if not isinstance(data, dict):
        raise ConfigError(
            "invalid config",
            str(path),
            "the top level is not a mapping",
            "write 'key: value' lines",
        )
    return data


def shipped_config(relative: str) -> Path:
    """The file ``configs/<relative>`` shipped with heplearn.

    A wheel carries ``configs/`` inside the package (``heplearn/configs``); an editable
    install or a source checkout has it at the top of the repository.
    """
    package = Path(__file__).resolve().parent
    for root in (package / "configs", package.parents[1] / "configs"):
        if (root / relative).is_file():
            return root / relative
    raise ConfigError(
        "shipped config not found",
        f"configs/{relative}",
        "neither the installed package nor the source tree has it",
        "reinstall heplearn",
    )


def load_config(cls: type[T], path: str | Path) -> T:
    """Load a YAML file into the config dataclass ``cls``."""
    path = Path(path)
    return parse_config(cls, _read_yaml(path), str(path))


def load_any_config(path: str | Path) -> Any:
    """Load a YAML file whose ``kind`` selects the registered config dataclass."""
    path = Path(path)
    data = _read_yaml(path)
    kind = data.get("kind")
    if kind not in _REGISTRY:
        kinds = sorted(_REGISTRY)
        raise ConfigError(
            f"config kind {kind!r}",
            str(path),
            f"the known kinds are {', '.join(kinds)}",
            f"start the file with 'kind: {_closest(str(kind), kinds)}'",
        )
    return parse_config(_REGISTRY[kind], data, str(path))


def config_to_dict(config: Any) -> dict[str, Any]:
    """The fully resolved config as plain YAML-able data, ``kind`` first."""
    body = dataclasses.asdict(config)

    def plain(value: Any) -> Any:
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    kind = getattr(config, "kind", None)
    head = {"kind": kind} if kind else {}
    return {**head, **{k: plain(v) for k, v in body.items()}}


def dump_config(config: Any) -> str:
    """The fully resolved config as YAML text (written next to every run's outputs)."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False)
