"""``heplearn search scan``: train every method the config lists, then compare them side by side.

``OUT/run`` is the run folder of :func:`~heplearn.search.train.train_search`; ``OUT`` itself
holds the evaluation on the held-out test split (``metrics.json``, figures,
``report.html``).  The whole folder is written under a temporary name and renamed when
complete, so an interrupted scan leaves no half-finished ``OUT``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from heplearn.data.atomic import atomic_output
from heplearn.search.evaluate import SearchEvaluation, evaluate_search
from heplearn.search.evaluation_report import write_evaluation_files
from heplearn.search.train import train_search
from heplearn.search.train_config import SearchTrainConfig

__all__ = ["RUN_FOLDER", "scan_search"]

#: The run folder inside a scan's output.
RUN_FOLDER = "run"


def scan_search(
    config: SearchTrainConfig,
    data: str | Path,
    out: str | Path,
    *,
    overwrite: bool = False,
    progress: bool = False,
    echo: Callable[[str], None] | None = None,
) -> SearchEvaluation:
    """Train into ``out/run``, evaluate on the held-out events into ``out``; the evaluation.

    The returned metrics name ``out/run`` as the run (where it lives after the rename).
    """
    data, out = Path(data), Path(out)
    with atomic_output(out, overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        train_search(config, data, tmp / RUN_FOLDER, progress=progress, echo=echo)
        evaluation = evaluate_search(tmp / RUN_FOLDER, data)
        evaluation.metrics["run"] = str(out / RUN_FOLDER)
        write_evaluation_files(evaluation, tmp)
    return evaluation
