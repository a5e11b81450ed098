"""ROOT TTrees as a chunked column source (uproot).

Flat numeric branches become fixed columns, fixed-size arrays (``float[7][11]``)
keep their shape, and variable-length numeric branches (``float[]``,
``std::vector<float>``) become jagged columns.  Other branch types (strings,
objects) are listed as unsupported and left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from heplearn.data.schema import Column
from heplearn.data.sources import SourceColumn
from heplearn.errors import DataError

__all__ = ["FIELDS_OBJECT", "RootSource"]

#: Name of the TObjString in which ``data export`` records branch → field names.
FIELDS_OBJECT = "heplearn_fields"


def _corrupt(path: Path, err: Exception) -> DataError:
    return DataError(
        "cannot read ROOT file",
        str(path),
        f"the file is truncated or corrupt ({type(err).__name__}: {err})".replace("\n", " "),
        "re-copy or regenerate the file",
    )


def _is_supported(branch: Any) -> bool:
    interpretation = branch.interpretation
    if isinstance(interpretation, uproot.AsDtype):
        return np.dtype(interpretation.to_dtype).base.kind in "biuf"
    if isinstance(interpretation, uproot.AsJagged):
        content = interpretation.content
        return (
            isinstance(content, uproot.AsDtype)
            and np.dtype(content.to_dtype).kind in "biuf"
            and (np.dtype(content.to_dtype).shape == ())
        )
    if isinstance(interpretation, uproot.AsObjects):
        # std::vector<number> is read as objects but is jagged numbers in awkward form.
        return str(branch.typename).replace(" ", "") in {
            f"std::vector<{t}>"
            for t in (
                "float",
                "double",
                "int",
                "int32_t",
                "int64_t",
                "uint32_t",
                "bool",
                "short",
                "Long64_t",
                "Float_t",
                "Double_t",
                "Int_t",
                "UInt_t",
                "Bool_t",
            )
        }
    return False


_NUMBER = r"(bool|u?int(8|16|32|64)|float(32|64))"
_FIXED_TYPE = re.compile(rf"^(\d+ \* )*{_NUMBER}$")
_JAGGED_TYPE = re.compile(rf"^var \* {_NUMBER}$")
_TREE_CLASSES = ("TTree", "ROOT::RNTuple")


def _type_kind(array: ak.Array) -> str | None:
    """``'fixed'``, ``'jagged'`` or None (unsupported) from the awkward type of one column."""
    text = str(ak.type(array).content)
    if _FIXED_TYPE.match(text):
        return "fixed"
    return "jagged" if _JAGGED_TYPE.match(text) else None


class RootSource:
    """One TTree (or RNTuple) of a ROOT file."""

    def __init__(self, path: Path, tree: str | None) -> None:
        self.location = str(path)
        self._path = path
        try:
            self._file = uproot.open(path)
            classes = self._file.classnames()
        except Exception as err:  # uproot raises many types for a damaged file
            raise _corrupt(path, err) from err
        tree_classes = {
            key.split(";")[0]: cls for key, cls in classes.items() if cls in _TREE_CLASSES
        }
        trees = sorted(tree_classes)
        self._fields_map: dict[str, str] = {}
        if FIELDS_OBJECT in {key.split(";")[0] for key in classes}:
            self._fields_map = json.loads(str(self._file[FIELDS_OBJECT]))
        if tree is None:
            if len(trees) != 1:
                listing = ", ".join(trees) if trees else "none"
                raise DataError(
                    "which tree?",
                    str(path),
                    f"the file has {len(trees)} TTrees ({listing})",
                    "choose one with --tree NAME",
                )
            tree = trees[0]
        if tree not in trees:
            raise DataError(
                f"tree '{tree}' not found",
                str(path),
                f"the available TTrees are {', '.join(trees) if trees else 'none'}",
                "choose one with --tree NAME",
            )
        self.tree_name = tree
        try:
            self._tree = self._file[tree]
            self.rows: int | None = int(self._tree.num_entries)
            self._kinds = self._rntuple_kinds() if tree_classes[tree] == "ROOT::RNTuple" else None
        except Exception as err:
            raise _corrupt(path, err) from err

    def _rntuple_kinds(self) -> dict[str, str | None]:
        # RNTuple fields carry no TTree interpretation: read one entry and look at its type.
        sample = self._tree.arrays(entry_stop=min(1, self.rows or 0))
        return {name: _type_kind(sample[name]) for name in sample.fields}

    def columns(self) -> list[SourceColumn]:
        if self._kinds is not None:
            return [SourceColumn(n, str(k), k is not None) for n, k in self._kinds.items()]
        return [
            SourceColumn(branch.name, str(branch.typename), _is_supported(branch))
            for branch in self._tree.values(recursive=True)
            # A branch with sub-branches holds no values of its own; in our own exports the
            # n<name> counters are implied by the jagged lengths.
            if not branch.branches and (not self._fields_map or branch.name in self._fields_map)
        ]

    def native_fields(self) -> dict[str, str]:
        """Branch → store-field names recorded by ``heplearn data export``, if any."""
        return dict(self._fields_map)

    def _is_jagged(self, name: str) -> bool:
        if self._kinds is not None:
            return self._kinds[name] == "jagged"
        return not isinstance(self._tree[name].interpretation, uproot.AsDtype)

    def iter_chunks(self, names: Sequence[str], step_rows: int) -> Iterator[dict[str, Column]]:
        wanted = set(names)
        try:
            for chunk in self._tree.iterate(
                filter_name=lambda name: name in wanted, step_size=step_rows, library="ak"
            ):
                yield {name: _to_column(chunk[name], self._is_jagged(name)) for name in names}
        except DataError:
            raise
        except Exception as err:
            raise _corrupt(self._path, err) from err


def _to_column(array: ak.Array, jagged: bool) -> Column:
    """Fixed-shape branches become numpy; variable-length ones stay awkward (by type, not data)."""
    if not jagged:
        return ak.to_numpy(array)
    return ak.without_parameters(array)
