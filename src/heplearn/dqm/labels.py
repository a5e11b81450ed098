"""Map and channel labels of the DQM store: class and fault-shape names and their codes.

``labels/map_class`` and ``labels/channels`` hold indices into :data:`CLASS_NAMES`
(0 good / ok, 1 dead, 2 hot, 3 noisy, 4 partial); ``labels/fault_shape`` indexes
:data:`SHAPE_NAMES` (0 none, 1 1x1, 2 5x5, 3 rbx, 4 depth).  The codes are defined where
faults are injected (:mod:`heplearn.detector.occupancy.hcal_faults`) and re-exported here.
"""

from __future__ import annotations

from heplearn.detector.occupancy.hcal_faults import FAULT_CLASSES, FAULT_SHAPES
from heplearn.errors import ConfigError

__all__ = [
    "CLASS_NAMES",
    "FAULT_NAMES",
    "SHAPE_NAMES",
    "class_index",
    "class_name",
    "fault_size_name",
    "shape_index",
    "shape_name",
]

CLASS_NAMES: tuple[str, ...] = FAULT_CLASSES
SHAPE_NAMES: tuple[str, ...] = FAULT_SHAPES
#: The fault classes (every class but "good").
FAULT_NAMES: tuple[str, ...] = CLASS_NAMES[1:]


def _index(name: str, names: tuple[str, ...], what: str) -> int:
    if name not in names:
        raise ConfigError(
            what, repr(name), f"the known names are {', '.join(names)}", "use one of those names"
        )
    return names.index(name)


def _name(index: int, names: tuple[str, ...], what: str) -> str:
    if not 0 <= int(index) < len(names):
        raise ConfigError(
            what, str(index), f"codes run from 0 to {len(names) - 1}", "use a valid code"
        )
    return names[int(index)]


def class_index(name: str) -> int:
    """Code of class ``name`` (``"good"`` → 0, ``"dead"`` → 1, …)."""
    return _index(name, CLASS_NAMES, "map class")


def class_name(index: int) -> str:
    """Name of class code ``index``."""
    return _name(index, CLASS_NAMES, "map class code")


def shape_index(name: str) -> int:
    """Code of fault shape ``name`` (``"none"`` → 0, ``"1x1"`` → 1, …)."""
    return _index(name, SHAPE_NAMES, "fault shape")


def shape_name(index: int) -> str:
    """Name of fault-shape code ``index``."""
    return _name(index, SHAPE_NAMES, "fault shape code")


def fault_size_name(map_class: int, fault_shape: int) -> str:
    """Key of a fault type × size as in ``metrics.json``, e.g. (1, 1) → ``"dead_1x1"``;
    ``"good"`` for a good map."""
    if int(map_class) == 0:
        return CLASS_NAMES[0]
    return f"{class_name(map_class)}_{shape_name(fault_shape)}"
