"""Reports: HEP-style figures (matplotlib + mplhep) and self-contained HTML pages."""

from __future__ import annotations

from heplearn.report.sample_validation import validate_calib_sample

__all__ = ["validate_calib_sample"]
