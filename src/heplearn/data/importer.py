"""``data import``: a ROOT, CSV or HDF5 file → a heplearn store, chunk by chunk.

Memory stays bounded by ``step_rows``, NaN/inf are counted per column while
writing (and refused at the end unless ``allow_nan``), and the store appears
under its final name only when the whole file has been read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from heplearn.config import dump_config
from heplearn.data.atomic import check_output
from heplearn.data.mapping import ImportMapping, plan_columns
from heplearn.data.provenance import provenance
from heplearn.data.schema import Column, count_nonfinite, is_jagged
from heplearn.data.sources import open_source
from heplearn.data.writer import StoreWriter
from heplearn.errors import ConfigError, DataError
from heplearn.progress import progress_bar

__all__ = ["ImportSummary", "import_file"]


@dataclass(frozen=True)
class ImportSummary:
    """What an import did: rows, fields written, columns left out, NaN/inf kept."""

    source: str
    out: Path
    rows: int
    fields: dict[str, str]
    skipped: list[str] = field(default_factory=list)
    nonfinite: dict[str, int] = field(default_factory=dict)


def _scaled(column: Column, factor: float) -> Column:
    if is_jagged(column):
        return column * factor
    return np.asarray(column) * np.asarray(factor, dtype=np.asarray(column).dtype)


def import_file(
    source_path: str | Path,
    out: str | Path,
    *,
    tree: str | None = None,
    mapping: ImportMapping | None = None,
    allow_nan: bool = False,
    overwrite: bool = False,
    step_rows: int = 100_000,
    progress: bool = False,
) -> ImportSummary:
    """Import ``source_path`` into the store file ``out`` and return a summary."""
    source_path, out = Path(source_path), Path(out)
    check_output(out, overwrite)
    if mapping is not None and mapping.tree is not None:
        if tree is not None and tree != mapping.tree:
            raise ConfigError(
                "conflicting trees",
                str(source_path),
                f"--tree {tree} but the mapping says tree: {mapping.tree}",
                "drop one of them",
            )
        tree = mapping.tree
    source = open_source(source_path, tree)
    plan, skipped = plan_columns(
        source.columns(), source.native_fields(), mapping, str(source_path)
    )
    if not plan:
        raise DataError(
            "no numeric columns",
            str(source_path),
            "nothing can be stored",
            "check the file or its mapping",
        )
    scale = mapping.scale if mapping else {}
    counts = dict.fromkeys(plan, 0)
    record = provenance(
        config=None if mapping is None else dump_config(mapping),
        source=str(source_path.resolve()),
        tree=getattr(source, "tree_name", None),
    )
    with (
        progress_bar(f"import {source_path.name}", source.rows, enabled=progress) as advance,
        StoreWriter(out, provenance=record, overwrite=overwrite) as writer,
    ):
        for chunk in source.iter_chunks(list(plan), step_rows):
            columns: dict[str, Column] = {}
            for column_name, field_name in plan.items():
                values = chunk[column_name]
                if field_name in scale:
                    values = _scaled(values, scale[field_name])
                counts[column_name] += count_nonfinite(values)
                columns[field_name] = values
            writer.append(columns)
            advance(len(next(iter(columns.values()))))
        if writer.rows == 0:
            raise DataError("no rows", str(source_path), "the input is empty", "check the file")
        bad = {name: n for name, n in counts.items() if n}
        if bad and not allow_nan:
            listed = ", ".join(f"'{name}' ({n})" for name, n in sorted(bad.items()))
            raise DataError(
                "NaN/inf values",
                str(source_path),
                f"found in column {listed}",
                "clean the input or pass --allow-nan to keep them",
            )
        rows = writer.rows
        schema = {name: spec.describe() for name, spec in writer.schema.items()}
    return ImportSummary(
        source=str(source_path),
        out=out,
        rows=rows,
        fields=schema,
        skipped=skipped,
        nonfinite={plan[name]: n for name, n in counts.items() if n},
    )
