"""How the search's selection methods are named in tables and figures."""

from __future__ import annotations

from typing import Any

__all__ = ["METHOD_LABELS", "format_value"]

METHOD_LABELS = {
    "thesis_cuts": "thesis cuts",
    "optimised_cuts": "optimised cuts",
    "xgboost": "XGBoost",
    "nn": "NN",
    "parameterised_nn": "parameterised NN",
    "ensemble": "ensemble",
}


def format_value(value: Any, digits: int = 3) -> str:
    """A table cell: ``digits`` significant digits, or a dash where there is no value."""
    return "–" if value is None else f"{float(value):.{digits}g}"
