"""What ``heplearn calib study`` runs (kind ``calib-study``): a base training config and a space.

``base`` names a ``calib-train`` config: a path relative to the study file, or, when no
such file exists, a config shipped with heplearn (``calib/train/tiny.yaml``).  ``space``
maps dotted paths of the training config (``deepcalo.film_inputs``, ``trainer.lr_max``,
``trainer.batch_size``, ``loss``) to their values (``fixed`` sets fields of the base for
every trial, e.g. fewer epochs for a quick study):

- a list: the values to try (a grid axis, or a categorical choice);
- ``{low: …, high: …, log: true|false}``: a range of an integer or float field (``random``
  and ``tpe`` only).

The sampler: ``grid`` tries every combination in the order written (first key outermost,
as the rows of the thesis' tables), ``random`` draws ``n_trials`` points from a seeded
generator, ``tpe`` lets Optuna's seeded TPE choose, with median pruning of the per-epoch
validation eIQR.  Grid and random points are fixed before anything runs, so they and their
results do not depend on how many workers ran them.  Every combination (grid, random) or
every value at the ends of every range (tpe) is put into the base config and checked as a
config file would be, before anything is written.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from heplearn.calib.models import DEEPCALO_PRESETS
from heplearn.calib.train_config import CalibTrainConfig
from heplearn.config import config_to_dict, load_config, register_config, setting, shipped_config
from heplearn.errors import ConfigError
from heplearn.training.config_paths import check_key, field_type, value_label, with_settings

__all__ = ["Axis", "CalibStudyConfig", "StudyPlan", "load_study", "trial_config"]

#: Example keys named in error messages.
_EXAMPLE = "trainer.lr_max, trainer.batch_size, deepcalo.film_inputs, deepcalo.top_inputs"
_RANGE_KEYS = {"low", "high", "log"}


@register_config("calib-study")
@dataclass(frozen=True)
class CalibStudyConfig:
    """A study: many ``calib train`` runs of one base config, varied over a search space."""

    base: str = setting("", doc="calib-train config: a path (relative to this file) or shipped")
    sampler: Literal["grid", "random", "tpe"] = setting(
        "grid", doc="grid: every combination; random: n_trials seeded draws; tpe: Optuna TPE"
    )
    fixed: dict[str, Any] = setting(
        {}, doc="dotted training-config field → value, set in the base for every trial"
    )
    space: dict[str, Any] = setting({}, doc="dotted training-config field → values or range")
    n_trials: int | None = setting(
        None, low=1, high=1_000_000, doc="trials in all (grid: at most; random, tpe: needed)"
    )
    seed: int = setting(0, low=0, high=2**32 - 1, doc="seed of the random points and of TPE")
    study_name: str = setting("calib-study", doc="the study's name in its storage")
    pruning: bool = setting(True, doc="tpe: stop trials worse than the median at an epoch")
    pruning_warmup_epochs: int = setting(
        2, low=0, high=100_000, doc="epochs before a trial may be pruned"
    )
    startup_trials: int = setting(
        4, low=0, high=100_000, doc="tpe: random trials before TPE and before pruning starts"
    )

    def validate(self, where: str) -> None:
        if not self.base:
            raise ConfigError(
                "field 'base'",
                where,
                "no base training config is named",
                "add e.g. 'base: calib/train/tiny.yaml'",
            )
        if not self.study_name:
            raise ConfigError("field 'study_name'", where, "it is empty", "give the study a name")


@dataclass(frozen=True)
class Axis:
    """One varied field: a list of values, or an integer/float range."""

    key: str
    values: tuple[Any, ...] | None = None  # a choice
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False

    @property
    def labels(self) -> list[str]:
        """The values as Optuna's categorical choices (text, so lists are allowed)."""
        assert self.values is not None
        return [value_label(v) for v in self.values]

    def value(self, param: Any) -> Any:
        """The config value of an Optuna parameter of this axis."""
        if self.values is None:
            return int(param) if self.integer else float(param)
        return self.values[self.labels.index(param)]

    def describe(self) -> Any:
        """JSON-able description (study.json)."""
        if self.values is not None:
            return list(self.values)
        return {"low": self.low, "high": self.high, "log": self.log, "integer": self.integer}


@dataclass(frozen=True)
class StudyPlan:
    """A loaded study: its config, the base training config and the parsed space."""

    config: CalibStudyConfig
    path: Path
    base_path: Path
    base: CalibTrainConfig
    axes: tuple[Axis, ...]

    @property
    def sampler(self) -> str:
        return self.config.sampler

    def settings(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Optuna parameters → dotted config settings."""
        return {axis.key: axis.value(params[axis.key]) for axis in self.axes}

    def points(self, n: int | None = None) -> list[dict[str, Any]]:
        """The fixed trial parameters of a grid (all, or the first ``n``) or ``n`` random draws."""
        if self.sampler == "grid":
            grid = [
                dict(zip([a.key for a in self.axes], combo, strict=True))
                for combo in itertools.product(*(a.labels for a in self.axes))
            ]
            return grid if n is None else grid[:n]
        if self.sampler == "random":
            count = n if n is not None else self.config.n_trials
            assert count is not None
            return _random_points(self.axes, count, self.config.seed)
        raise ValueError("tpe has no fixed points")  # a bug: callers check the sampler

    def config_for(self, settings: Mapping[str, Any], where: str) -> CalibTrainConfig:
        return trial_config(self.base, settings, where)

    def identity(self) -> dict[str, Any]:
        """What a resumed study must share with the stored one (not n_trials, not the name)."""
        base = config_to_dict(self.base)
        return {
            "base": base,
            "sampler": self.sampler,
            "space": {a.key: a.describe() for a in self.axes},
            "seed": self.config.seed,
            "pruning": (
                [self.config.pruning, self.config.pruning_warmup_epochs, self.config.startup_trials]
                if self.sampler == "tpe"
                else None
            ),
        }

    def identity_text(self) -> str:
        return json.dumps(self.identity(), sort_keys=True, default=str)


def _random_points(axes: tuple[Axis, ...], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` seeded draws; the first k are the same for any n ≥ k."""
    rng = np.random.default_rng(seed)
    points = []
    for _ in range(n):
        point: dict[str, Any] = {}
        for axis in axes:
            if axis.values is not None:
                point[axis.key] = axis.labels[int(rng.integers(len(axis.values)))]
                continue
            assert axis.low is not None and axis.high is not None
            if axis.integer:
                if axis.log:
                    draw = np.exp(rng.uniform(np.log(axis.low), np.log(axis.high + 1)))
                    point[axis.key] = int(min(max(int(draw), axis.low), axis.high))
                else:
                    point[axis.key] = int(rng.integers(int(axis.low), int(axis.high) + 1))
            elif axis.log:
                point[axis.key] = float(np.exp(rng.uniform(np.log(axis.low), np.log(axis.high))))
            else:
                point[axis.key] = float(rng.uniform(axis.low, axis.high))
        points.append(point)
    return points


def trial_config(
    base: CalibTrainConfig, settings: Mapping[str, Any], where: str
) -> CalibTrainConfig:
    """``base`` with the dotted ``settings``, checked whole.

    A ``deepcalo.*`` field set on a base without a ``deepcalo`` section starts from the
    base's preset (not from the thesis defaults), so varying ``deepcalo.film_inputs`` of the
    ``tiny`` preset varies the tiny network.
    """
    if base.deepcalo is None and any(k.startswith("deepcalo.") for k in settings):
        preset = settings.get("preset", base.preset)
        if preset in DEEPCALO_PRESETS:
            base = dataclasses.replace(base, deepcalo=DEEPCALO_PRESETS[preset])
    return with_settings(base, dict(settings), where)


def _base_path(name: str, study: Path) -> Path:
    local = Path(name) if Path(name).is_absolute() else study.parent / name
    if local.is_file():
        return local
    try:
        return shipped_config(name)
    except ConfigError:
        raise ConfigError(
            "base config not found",
            f"{study} (base: {name})",
            f"neither {local} nor a shipped configs/{name} exists",
            "give a path relative to the study file, or a shipped one such as "
            "calib/train/tiny.yaml",
        ) from None


def _axis(key: str, spec: Any, sampler: str, where: str) -> Axis:
    check_key(key, CalibTrainConfig, what="search-space key", where=where, example=_EXAMPLE)
    if isinstance(spec, list):
        if not spec:
            raise ConfigError(
                f"search-space key '{key}'", where, "it lists no values", "give at least one"
            )
        axis = Axis(key, values=tuple(spec))
        if len(set(axis.labels)) != len(spec):
            raise ConfigError(
                f"search-space key '{key}'", where, "a value is repeated", "list each value once"
            )
        return axis
    if not isinstance(spec, Mapping) or not {"low", "high"} <= set(spec) <= _RANGE_KEYS:
        raise ConfigError(
            f"search-space key '{key}'",
            where,
            f"{spec!r} is neither a list of values nor a range {{low, high, log}}",
            f"write e.g. '{key}: [a, b]' or '{key}: {{low: 0.001, high: 0.01, log: true}}'",
        )
    if sampler == "grid":
        raise ConfigError(
            f"search-space key '{key}'",
            where,
            "a grid takes a list of values, not a range",
            "list the values, or use sampler: random or tpe",
        )
    tp = field_type(CalibTrainConfig, key)
    low, high, log = spec["low"], spec["high"], spec.get("log", False)
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
    if tp not in (int, float) or not numbers or not isinstance(log, bool):
        raise ConfigError(
            f"search-space key '{key}'",
            where,
            "a range needs a number field and numbers low, high (log: true or false)",
            "list the values instead",
        )
    if not low < high or (log and low <= 0):
        raise ConfigError(
            f"search-space key '{key}'",
            where,
            f"the range [{low}, {high}]{' (log)' if log else ''} is empty or not positive",
            "give low < high (and low > 0 on a log scale)",
        )
    if tp is int and not (isinstance(low, int) and isinstance(high, int)):
        raise ConfigError(
            f"search-space key '{key}'", where, "an integer field needs integer ends", "fix them"
        )
    return Axis(key, low=float(low), high=float(high), log=log, integer=tp is int)


def _checked_settings(plan: StudyPlan, where: str) -> None:
    """Every trial config the study can make parses (grid, random), or every value (tpe)."""
    if plan.sampler == "tpe":
        singles = []
        for axis in plan.axes:
            values = axis.values if axis.values is not None else (axis.low, axis.high)
            singles += [{axis.key: axis.value(v) if axis.values is None else v} for v in values]
        for settings in singles:
            plan.config_for(settings, f"{where} with {_text(settings)}")
        return
    for params in plan.points():
        settings = plan.settings(params)
        plan.config_for(settings, f"{where} with {_text(settings)}")


def _text(settings: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={value_label(v)}" for k, v in settings.items())


def load_study(path: str | Path, n_trials: int | None = None) -> StudyPlan:
    """Read a ``calib-study`` file and its base config; check the space and every trial config.

    ``n_trials`` (the command's ``--trials``) replaces the config's.
    """
    path = Path(path)
    config = load_config(CalibStudyConfig, path)
    if n_trials is not None:
        config = dataclasses.replace(config, n_trials=n_trials)
    where = str(path)
    if not config.space:
        raise ConfigError(
            "field 'space'",
            where,
            "the search space is empty",
            "add a training-config field and its values, e.g. 'trainer.lr_max: [0.001, 0.003]'",
        )
    if config.sampler != "grid" and config.n_trials is None:
        raise ConfigError(
            "field 'n_trials'",
            where,
            f"the {config.sampler} sampler needs the number of trials",
            "set n_trials (or pass --trials)",
        )
    keys = list(config.space)
    if "preset" in keys and any(k.startswith("deepcalo.") for k in keys):
        raise ConfigError(
            "search space",
            where,
            "it varies 'preset' and deepcalo.* fields: a deepcalo section replaces the preset",
            "vary one or the other",
        )
    axes = tuple(_axis(str(k), v, config.sampler, where) for k, v in config.space.items())
    base_path = _base_path(config.base, path)
    base = load_config(CalibTrainConfig, base_path)
    if config.fixed:
        for key in config.fixed:
            check_key(str(key), CalibTrainConfig, what="fixed key", where=where, example=_EXAMPLE)
        base = trial_config(base, config.fixed, f"{where} (fixed settings on {base_path})")
    plan = StudyPlan(config, path, base_path, base, axes)
    _checked_settings(plan, where)
    return plan
