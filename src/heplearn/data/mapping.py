"""Import mappings: which column of a user's file becomes which store field.

Example (ATLAS-style ntuple in MeV)::

    kind: import-mapping
    tree: CollectionTree
    fields:
      truth/energy: p_truth_E
      scalars/e_acc: p_eAccCluster
      scalars/eta: p_eta
    scale:
      truth/energy: 0.001     # MeV -> GeV
      scalars/e_acc: 0.001
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from heplearn.config import register_config, setting
from heplearn.data.schema import valid_field_name
from heplearn.data.sources import SourceColumn
from heplearn.errors import ConfigError, DataError

__all__ = ["ImportMapping", "extra_field_name", "plan_columns"]


@register_config("import-mapping")
@dataclass(frozen=True)
class ImportMapping:
    """Store field → source column, optional unit factors, and what to do with the rest."""

    fields: dict[str, str] = setting({}, doc="store field (group/name) -> source column")
    scale: dict[str, float] = setting({}, doc="store field -> factor, e.g. 0.001 for MeV -> GeV")
    tree: str | None = setting(None, doc="TTree to read (ROOT only)")
    keep_unmapped: bool = setting(True, doc="keep the other columns under extra/")

    def validate(self, where: str) -> None:
        for name in self.fields:
            if not valid_field_name(name):
                raise ConfigError(
                    f"field name '{name}'",
                    where,
                    "fields are 'group/name' paths",
                    "use e.g. 'truth/energy'",
                )
        for name in self.scale:
            if name not in self.fields:
                raise ConfigError(
                    f"scale for '{name}'",
                    where,
                    "that field is not in 'fields'",
                    "map the field first or remove its scale",
                )


def extra_field_name(column: str) -> str:
    """Store name of an unmapped column: ``extra/<column>`` with unsafe characters replaced."""
    safe = re.sub(r"[^A-Za-z0-9_.\-]", "_", column)
    if not re.match(r"[A-Za-z_]", safe):
        safe = f"_{safe}"
    return f"extra/{safe}"


def _suggest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    return f"close names: {', '.join(close)}" if close else f"available: {', '.join(choices[:10])}"


def plan_columns(
    columns: list[SourceColumn],
    native: dict[str, str],
    mapping: ImportMapping | None,
    where: str,
) -> tuple[dict[str, str], list[str]]:
    """Return (source column -> store field, skipped unsupported columns)."""
    by_name = {c.name: c for c in columns}
    skipped = [c.name for c in columns if not c.supported]
    plan: dict[str, str] = {}
    mapped = mapping.fields if mapping else {}
    for field, column in mapped.items():
        if column not in by_name:
            raise ConfigError(
                f"mapping of '{field}'",
                where,
                f"column '{column}' is not in the input",
                _suggest(column, list(by_name)),
            )
        if not by_name[column].supported:
            raise DataError(
                f"column '{column}'",
                where,
                f"its type {by_name[column].type} is not numeric",
                "map a numeric column",
            )
        plan[column] = field
    if mapping is None or mapping.keep_unmapped:
        taken = set(plan.values())
        for candidate in columns:
            if candidate.supported and candidate.name not in plan:
                field = native.get(candidate.name) or extra_field_name(candidate.name)
                while field in taken:
                    field += "_"
                plan[candidate.name] = field
                taken.add(field)
    return plan, skipped
