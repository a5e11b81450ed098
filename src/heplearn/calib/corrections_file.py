"""Scale and smearing corrections per |η| bin in the correctionlib JSON schema (v2).

CMS analyses read their e/γ scale and smearing from such files, so any tool can
apply ours.  Corrections (inputs: ``quantity`` string, ``abseta`` real):

- ``energy_scale``: ``alpha`` and ``alpha_err``; E_data = (1 + α)·E_MC, so data is
  corrected by E/(1 + α) (the thesis' eq. 5.13 α has the opposite sign: E·(1 + α));
- ``smearing`` (only when the fit had MC): ``c`` and ``c_err``, the extra relative
  constant term; MC is smeared by E·(1 + c·g), g ~ N(0, 1);
- ``resolution``: ``r`` and ``r_err``, the data's relative energy resolution (eq. 5.14).

|η| beyond the edges is an error (``flow: "error"``).  The set's ``description``
holds the fit summary as JSON (method, reference, χ²/ndf, categories).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from heplearn.errors import DataError

__all__ = ["Corrections", "corrections_json", "read_corrections"]

Array = np.ndarray[Any, Any]

_QUANTITIES = {"energy_scale": ("alpha", "alpha_err"), "smearing": ("c", "c_err")}
_QUANTITIES["resolution"] = ("r", "r_err")


@dataclass(frozen=True)
class Corrections:
    """α (and c, r where fitted) per |η| bin with errors, read back from a corrections file."""

    edges: Array
    alpha: Array
    alpha_err: Array
    c: Array | None
    c_err: Array | None
    summary: dict[str, Any]

    def bins(self, abs_eta: Array) -> Array:
        return np.searchsorted(self.edges[1:-1], abs_eta, side="right")


def _correction(name: str, doc: str, edges: Array, rows: dict[str, Array]) -> dict[str, Any]:
    return {
        "name": name,
        "description": doc,
        "version": 1,
        "inputs": [
            {"name": "quantity", "type": "string", "description": " or ".join(rows)},
            {"name": "abseta", "type": "real", "description": "|η| of the cluster"},
        ],
        "output": {"name": "value", "type": "real"},
        "data": {
            "nodetype": "category",
            "input": "quantity",
            "content": [
                {
                    "key": key,
                    "value": {
                        "nodetype": "binning",
                        "input": "abseta",
                        "edges": [float(e) for e in edges],
                        "content": [float(v) for v in values],
                        "flow": "error",
                    },
                }
                for key, values in rows.items()
            ],
        },
    }


def corrections_json(
    edges: Array,
    scale: tuple[Array, Array],
    smearing: tuple[Array, Array] | None,
    resolution: tuple[Array, Array] | None,
    summary: dict[str, Any],
) -> str:
    """The correctionlib (schema v2) JSON text of the fitted corrections."""
    corrections = [
        _correction(
            "energy_scale",
            "E_data = (1 + alpha) E_ref per |eta| bin; correct data by E / (1 + alpha)",
            edges,
            {"alpha": scale[0], "alpha_err": scale[1]},
        )
    ]
    if smearing is not None:
        doc = "extra relative constant term c; smear MC by E (1 + c g), g ~ N(0, 1)"
        corrections.append(
            _correction("smearing", doc, edges, dict(zip(("c", "c_err"), smearing, strict=True)))
        )
    if resolution is not None:
        doc = "relative energy resolution of the data per |eta| bin (eq. 5.14)"
        rows = dict(zip(("r", "r_err"), resolution, strict=True))
        corrections.append(_correction("resolution", doc, edges, rows))
    document = {
        "schema_version": 2,
        "description": json.dumps(summary, allow_nan=False),
        "corrections": corrections,
    }
    from correctionlib.schemav2 import CorrectionSet

    CorrectionSet.model_validate(document)  # a schema slip fails here, not in a user's tool
    return json.dumps(document, indent=1) + "\n"


def _bad(path: Path, why: str) -> DataError:
    return DataError(
        "not a heplearn corrections file",
        str(path),
        why,
        "give the corrections.json written by 'heplearn calib scale-fit'",
    )


def read_corrections(path: Path) -> Corrections:
    """Load and validate ``path`` with correctionlib's own loader, then read α (and c)."""
    import correctionlib

    try:
        correctionlib.CorrectionSet.from_file(str(path))
        document = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise DataError(
            "corrections file not found", str(path), "no such file", "check the path"
        ) from err
    except (RuntimeError, ValueError, UnicodeDecodeError) as err:
        raise _bad(
            path, f"correctionlib cannot read it ({str(err).splitlines()[0][:120]})"
        ) from err
    found: dict[str, dict[str, Array]] = {}
    edges: Array | None = None
    try:
        for correction in document["corrections"]:
            if correction["name"] not in _QUANTITIES:
                continue
            rows = correction["data"]["content"]
            found[correction["name"]] = {
                row["key"]: np.asarray(row["value"]["content"], dtype=float) for row in rows
            }
            edges = np.asarray(rows[0]["value"]["edges"], dtype=float)
        summary = json.loads(document.get("description") or "{}")
    except (KeyError, IndexError, TypeError, json.JSONDecodeError) as err:
        raise _bad(path, f"unexpected layout ({type(err).__name__}: {err})") from err
    if "energy_scale" not in found or edges is None:
        raise _bad(path, "it has no 'energy_scale' correction")
    smear = found.get("smearing")
    return Corrections(
        edges=edges,
        alpha=found["energy_scale"]["alpha"],
        alpha_err=found["energy_scale"]["alpha_err"],
        c=None if smear is None else smear["c"],
        c_err=None if smear is None else smear["c_err"],
        summary=summary if isinstance(summary, dict) else {},
    )
