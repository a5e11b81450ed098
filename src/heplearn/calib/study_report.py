"""The report of a ``calib study``: ``study.json`` (strict JSON) and ``report.html``.

Every trial in the storage, whichever call or worker ran it: its parameters, state, the
network's validation eIQR (the objective), the validation reIQR against the run's BDT
(when it has one), seconds, run folder; the best trial; and, from four complete trials on,
Optuna's parameter importance (fANOVA, seeded) as a table and a bar chart.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from heplearn import __version__
from heplearn.calib.study_config import StudyPlan
from heplearn.report.figures import figure, save_figure
from heplearn.report.html import HtmlReport
from heplearn.report.metrics_json import write_metrics_json

__all__ = ["MIN_IMPORTANCE_TRIALS", "STUDY_JSON", "results_table", "study_summary", "write_report"]

STUDY_JSON = "study.json"
#: Complete trials needed before parameter importance is computed.
MIN_IMPORTANCE_TRIALS = 4


def _row(trial: FrozenTrial, plan: StudyPlan) -> dict[str, Any]:
    attrs = trial.user_attrs
    complete = trial.state == TrialState.COMPLETE
    return {
        "number": trial.number,
        "point": attrs.get("point"),
        "state": trial.state.name.lower(),
        "params": {a.key: trial.params.get(a.key) for a in plan.axes},
        "eiqr": trial.value if complete else None,
        "eiqr_bdt": (attrs.get("eiqr") or {}).get("bdt"),
        "eiqr_e_acc": (attrs.get("eiqr") or {}).get("e_acc"),
        "reiqr75_vs_bdt": attrs.get("reiqr75_vs_bdt"),
        "reiqr95_vs_bdt": attrs.get("reiqr95_vs_bdt"),
        "validation_clusters": attrs.get("clusters"),
        "last_reported_eiqr": (
            trial.intermediate_values[max(trial.intermediate_values)]
            if trial.intermediate_values
            else None
        ),
        "pruned_at_epoch": attrs.get("pruned_at_epoch"),
        "seconds": attrs.get("seconds"),
        "folder": attrs.get("folder") if complete else None,
        "error": attrs.get("error"),
    }


def _importance(study: optuna.Study, complete: int) -> tuple[dict[str, float] | None, str]:
    if complete < MIN_IMPORTANCE_TRIALS:
        return None, f"needs {MIN_IMPORTANCE_TRIALS} complete trials ({complete} so far)"
    try:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
        values = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (RuntimeError, ValueError) as err:  # e.g. a single distinct value
        return None, f"Optuna could not compute it ({err})"
    return {k: float(v) for k, v in values.items()}, "fANOVA (Optuna), seed 0"


def study_summary(
    study: optuna.Study,
    plan: StudyPlan,
    *,
    data: Path,
    storage: str,
    wall_seconds: float,
    workers: int,
    threads: int | None,
    new_trials: int,
    warnings: list[str],
) -> dict[str, Any]:
    """What ``study.json`` holds: every trial (those with parameters), the best, importance."""
    trials = [t for t in study.get_trials(deepcopy=False) if t.params]
    rows = [_row(t, plan) for t in trials]
    if plan.sampler != "tpe":
        rows.sort(key=lambda r: (r["point"] if r["point"] is not None else -1, r["number"]))
    complete = [r for r in rows if r["state"] == "complete"]
    best = min(complete, key=lambda r: (r["eiqr"], r["number"])) if complete else None
    importance, method = _importance(study, len(complete))
    seconds = [r["seconds"] for r in complete if r["seconds"] is not None]
    counts = {s: sum(r["state"] == s for r in rows) for s in ("complete", "pruned", "fail")}
    return {
        "heplearn": __version__,
        "study": plan.config.study_name,
        "storage": storage,
        "config": str(plan.path),
        "base": str(plan.base_path),
        "data": str(data.resolve()),
        "sampler": plan.sampler,
        "space": {a.key: a.describe() for a in plan.axes},
        "objective": "eIQR of E_network/E_truth on the validation split, minimised",
        "trials": rows,
        "counts": {
            "complete": counts["complete"],
            "pruned": counts["pruned"],
            "failed": counts["fail"],
            "new": new_trials,
        },
        "best": best,
        "importance": importance,
        "importance_method": method,
        "seconds": {
            "mean_per_trial": statistics.fmean(seconds) if seconds else None,
            "total_of_trials": sum(seconds) if seconds else None,
            "wall_this_call": wall_seconds,
            "workers": workers,
            "torch_threads_per_worker": threads,
        },
        "warnings": warnings,
    }


def results_table(summary: dict[str, Any]) -> list[tuple[Any, ...]]:
    """(parameters, eIQR, reIQR vs BDT) of every complete trial, in point order: the
    numbers that must not depend on how many workers ran the study."""
    return [
        (tuple(r["params"].items()), r["eiqr"], r["reiqr75_vs_bdt"])
        for r in summary["trials"]
        if r["state"] == "complete"
    ]


def _fmt(value: Any, digits: str = ".4g") -> str:
    return "–" if value is None else format(float(value), digits)


def _figure(importance: dict[str, float], folder: Path) -> Path:
    names = list(importance)[::-1]
    with figure(figsize=(7, 0.5 * len(names) + 1.5)) as (fig, ax):
        ax.barh(names, [importance[n] for n in names], color="C0")
        ax.set_xlabel("parameter importance (fANOVA)")
        return save_figure(fig, folder, "importance")


def write_report(summary: dict[str, Any], folder: Path) -> None:
    """Write ``study.json``, the importance figure and ``report.html`` into ``folder``."""
    write_metrics_json(folder / STUDY_JSON, summary, overwrite=True)
    report = HtmlReport(f"calib study '{summary['study']}'")
    counts = summary["counts"]
    report.paragraph(
        f"Base {summary['base']}; {summary['sampler']} over "
        + "; ".join(f"{k} = {v}" for k, v in summary["space"].items())
        + f". Store {summary['data']}. Objective: {summary['objective']} (the test split is "
        f"never read). {counts['complete']} complete, {counts['pruned']} pruned, "
        f"{counts['failed']} failed trials; heplearn {summary['heplearn']}."
    )
    for warning in summary["warnings"]:
        report.paragraph(f"Warning: {warning}")
    keys = list(summary["space"])
    report.heading("Every trial")
    header = ["trial", "state", *keys, "eIQR (val.)", "eIQR BDT", "reIQR vs BDT", "seconds"]
    rows = [
        [
            r["number"],
            r["state"] + (f" @ epoch {r['pruned_at_epoch']}" if r["pruned_at_epoch"] else ""),
            *(r["params"][k] for k in keys),
            _fmt(r["eiqr"] if r["eiqr"] is not None else r["last_reported_eiqr"]),
            _fmt(r["eiqr_bdt"]),
            _fmt(r["reiqr75_vs_bdt"], ".3f"),
            _fmt(r["seconds"], ".1f"),
        ]
        for r in summary["trials"]
    ]
    report.table(header, rows)
    failed = [r for r in summary["trials"] if r["error"]]
    for r in failed:
        report.paragraph(f"Trial {r['number']} failed: {r['error']}")
    report.heading("Best trial")
    best = summary["best"]
    if best is None:
        report.paragraph("No trial is complete yet.")
    else:
        settings = ", ".join(f"{k} = {v}" for k, v in best["params"].items())
        report.paragraph(
            f"Trial {best['number']} ({settings}): validation eIQR {_fmt(best['eiqr'])}, "
            f"reIQR vs its BDT {_fmt(best['reiqr75_vs_bdt'], '.3f')}; run folder "
            f"{best['folder']} (evaluate it on the test split with 'heplearn calib evaluate')."
        )
    report.heading("Parameter importance")
    importance = summary["importance"]
    if importance is None:
        report.paragraph(f"Not computed: {summary['importance_method']}.")
    else:
        report.table(["parameter", "importance"], [[k, f"{v:.3f}"] for k, v in importance.items()])
        report.figure(_figure(importance, folder), summary["importance_method"])
    seconds = summary["seconds"]
    report.heading("Time")
    report.paragraph(
        f"Mean {_fmt(seconds['mean_per_trial'], '.1f')} s per complete trial "
        f"({seconds['workers']} worker(s), {seconds['torch_threads_per_worker'] or 'default'} "
        f"torch thread(s) each); this call ran {counts['new']} trial(s) in "
        f"{seconds['wall_this_call']:.1f} s."
    )
    report.write(folder / "report.html")
