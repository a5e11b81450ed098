"""ROOT TTrees as a chunked column source (uproot).

Flat numeric branches become fixed columns, fixed-size arrays (``float[7][11]``)
keep their shape, and variable-length numeric branches (``float[]``,
``std::vector<float>``) become jagged columns.  Other branch types (strings,
objects) are listed as unsupported and left out.
"""

from __future__ import annotations

import json
import lzma
import re
import struct
import zlib
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import cramjam  # uproot's LZ4 / ZSTD codec, a dependency of uproot
import numpy as np
import uproot
import uproot.deserialization

from heplearn.data.root_header import check_root_complete
from heplearn.data.schema import Column
from heplearn.data.sources import SourceColumn
from heplearn.errors import DataError

__all__ = ["CORRUPT_INPUT", "FIELDS_OBJECT", "RootSource"]

#: Name of the TObjString in which ``data export`` records branch → field names.
FIELDS_OBJECT = "heplearn_fields"


#: What uproot raises for a truncated, garbled or non-ROOT file (found by truncating and
#: flipping bytes of real files); anything else is a bug and propagates.
CORRUPT_INPUT: tuple[type[Exception], ...] = (
    OSError,  # fewer bytes than a chunk needs
    EOFError,
    ValueError,  # "not a ROOT file", unknown compression code
    struct.error,
    zlib.error,
    lzma.LZMAError,
    AssertionError,  # uproot asserts on inconsistent headers ("Anchor checksum does not match")
    NotImplementedError,  # a garbled RNTuple locator type
    uproot.deserialization.DeserializationError,
    uproot.KeyInFileError,
    cramjam.DecompressionError,
)


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
    """One TTree (or RNTuple) of a ROOT file.

    The file is open only while it is read: the constructor takes the column list and
    kinds, and :meth:`iter_chunks` reopens it for the values.
    """

    def __init__(self, path: Path, tree: str | None) -> None:
        self.location = str(path)
        self._path = path
        self._fields_map: dict[str, str] = {}
        check_root_complete(path)
        try:
            with uproot.open(path) as file:
                classes = file.classnames()
                trees = _trees(classes)
                if FIELDS_OBJECT in {key.split(";")[0] for key in classes}:
                    self._fields_map = _fields_map(path, str(file[FIELDS_OBJECT]))
                self.tree_name = _chosen_tree(path, tree, sorted(trees))
                handle = file[self.tree_name]
                self.rows: int | None = int(handle.num_entries)
                if trees[self.tree_name] == "ROOT::RNTuple":
                    self._columns, self._jagged = _rntuple_columns(handle, self.rows)
                else:
                    self._columns, self._jagged = _ttree_columns(handle, self._fields_map)
        except CORRUPT_INPUT as err:
            raise _corrupt(path, err) from err

    def columns(self) -> list[SourceColumn]:
        return list(self._columns)

    def native_fields(self) -> dict[str, str]:
        """Branch → store-field names recorded by ``heplearn data export``, if any."""
        return dict(self._fields_map)

    def iter_chunks(self, names: Sequence[str], step_rows: int) -> Iterator[dict[str, Column]]:
        chunks = _uproot_chunks(self._path, self.tree_name, set(names), step_rows)
        try:
            while True:
                # Only uproot's reading is guarded: an error in our conversion is a bug.
                try:
                    chunk = next(chunks)
                except StopIteration:
                    return
                except CORRUPT_INPUT as err:
                    raise _corrupt(self._path, err) from err
                yield {name: _to_column(chunk[name], self._jagged[name]) for name in names}
        finally:
            chunks.close()  # closes the file when the caller stops early


def _uproot_chunks(
    path: Path, tree: str, wanted: set[str], step_rows: int
) -> Generator[Any, None, None]:
    with uproot.open(path) as file:
        yield from file[tree].iterate(
            filter_name=lambda name: name in wanted, step_size=step_rows, library="ak"
        )


def _trees(classes: dict[str, str]) -> dict[str, str]:
    """Tree name → class of every TTree / RNTuple in the file."""
    return {key.split(";")[0]: cls for key, cls in classes.items() if cls in _TREE_CLASSES}


def _fields_map(path: Path, text: str) -> dict[str, str]:
    try:
        mapping = json.loads(text)
    except json.JSONDecodeError as err:
        raise _corrupt(path, err) from err
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise DataError(
            f"object '{FIELDS_OBJECT}'",
            str(path),
            "it is not a JSON object of branch → field names",
            "re-export the file with heplearn data export",
        )
    return mapping


def _chosen_tree(path: Path, tree: str | None, trees: list[str]) -> str:
    if tree is None:
        if len(trees) != 1:
            listing = ", ".join(trees) if trees else "none"
            raise DataError(
                "which tree?",
                str(path),
                f"the file has {len(trees)} TTrees ({listing})",
                "choose one with --tree NAME",
            )
        return trees[0]
    if tree not in trees:
        raise DataError(
            f"tree '{tree}' not found",
            str(path),
            f"the available TTrees are {', '.join(trees) if trees else 'none'}",
            "choose one with --tree NAME",
        )
    return tree


def _ttree_columns(
    tree: Any, fields_map: dict[str, str]
) -> tuple[list[SourceColumn], dict[str, bool]]:
    # A branch with sub-branches holds no values of its own; in our own exports the
    # n<name> counters are implied by the jagged lengths.
    branches = [
        branch
        for branch in tree.values(recursive=True)
        if not branch.branches and (not fields_map or branch.name in fields_map)
    ]
    columns = [SourceColumn(b.name, str(b.typename), _is_supported(b)) for b in branches]
    jagged = {b.name: not isinstance(b.interpretation, uproot.AsDtype) for b in branches}
    return columns, jagged


def _rntuple_columns(tree: Any, rows: int) -> tuple[list[SourceColumn], dict[str, bool]]:
    # RNTuple fields carry no TTree interpretation: read one entry and look at its type.
    sample = tree.arrays(entry_stop=min(1, rows))
    kinds = {name: _type_kind(sample[name]) for name in sample.fields}
    columns = [SourceColumn(n, str(k), k is not None) for n, k in kinds.items()]
    return columns, {n: k == "jagged" for n, k in kinds.items()}


def _to_column(array: ak.Array, jagged: bool) -> Column:
    """Fixed-shape branches become numpy; variable-length ones stay awkward (by type, not data)."""
    if not jagged:
        return ak.to_numpy(array)
    return ak.without_parameters(array)
