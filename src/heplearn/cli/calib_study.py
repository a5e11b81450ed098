"""``heplearn calib study``: many calib train runs over a search space, one report."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["study_command"]


def _echo(line: str) -> None:
    Console().print(line, highlight=False, markup=False)


def study_command(
    config: Path = typer.Option(
        ..., "--config", "-c", help="calib-study YAML (configs/calib/study/table-4-4.yaml)."
    ),
    data: Path = typer.Option(..., "--data", "-d", help="Calibration store to train on."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Study folder: study.db, trials/, study.json, report.html."
    ),
    workers: int = typer.Option(
        1, "--workers", "-j", min=1, help="Local worker processes (torch threads = cores // K)."
    ),
    dask: str | None = typer.Option(None, "--dask", help="Address of a Dask scheduler."),
    storage: str | None = typer.Option(
        None,
        "--storage",
        help="sqlite:///OUT/study.db by default; journal:PATH on a shared file system, or a "
        "database URL.",
    ),
    threads: int | None = typer.Option(
        None,
        "--threads",
        min=1,
        help="Torch threads per trial (default: cores // K locally; the workers' own on Dask).",
    ),
    trials: int | None = typer.Option(
        None, "--trials", "-n", min=1, help="Trials in all (grid: the first N points)."
    ),
) -> None:
    """Train one calib run per trial of a grid, random or TPE search; compare on validation.

    Each trial is a calib train run folder OUT/trials/trial-NNNN, scored by the network's eIQR
    on the validation split (never the test split). The study is stored trial by trial
    (OUT/study.db), so rerunning the command resumes it: finished trials are not rerun.
    OUT/study.json and OUT/report.html (every trial, the best, parameter importance) are
    rewritten whole at the end of each call.

    Examples:

      heplearn calib study -c configs/calib/study/table-4-4.yaml -d gun -o table-4-4 -j 2

      heplearn calib study -c lr.yaml -d gun -o lr --dask tcp://host:8786
      --storage journal:/shared/lr.log
    """
    from heplearn.calib.study import run_calib_study
    from heplearn.calib.study_config import load_study
    from heplearn.calib.study_report import study_summary, write_report
    from heplearn.errors import DataError

    plan = load_study(config, trials)
    run = run_calib_study(
        plan,
        data,
        out,
        workers=workers,
        dask=dask,
        storage=storage,
        threads=threads,
        echo=_echo,
    )
    summary = study_summary(
        run.study,
        plan,
        data=data,
        storage=run.storage,
        wall_seconds=run.wall_seconds,
        workers=run.workers,
        threads=run.threads,
        new_trials=len(run.new),
        warnings=run.warnings,
    )
    write_report(summary, out)
    console = Console()
    keys = list(summary["space"])
    table = Table(title="Validation eIQR per trial (E_network/E_truth)")
    for column in ("trial", "state", *keys, "eIQR", "reIQR vs BDT", "s"):
        table.add_column(escape(column))
    for row in summary["trials"]:
        value = row["eiqr"] if row["eiqr"] is not None else row["last_reported_eiqr"]
        table.add_row(
            str(row["number"]),
            row["state"],
            *(escape(str(row["params"][k])) for k in keys),
            "–" if value is None else f"{value:.5f}",
            "–" if row["reiqr75_vs_bdt"] is None else f"{row['reiqr75_vs_bdt']:.3f}",
            "–" if row["seconds"] is None else f"{row['seconds']:.1f}",
        )
    console.print(table)
    for warning in summary["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True)
    best = summary["best"]
    if best is not None:
        console.print(
            f"best: trial {best['number']} (eIQR {best['eiqr']:.5f}) → {out / best['folder']}",
            highlight=False,
        )
    console.print(f"report: {out / 'report.html'}")
    counts = summary["counts"]
    if counts["complete"] == 0 and counts["failed"]:
        first = next(r for r in summary["trials"] if r["error"])
        raise DataError(
            "every trial failed",
            str(out),
            f"e.g. trial {first['number']}: {first['error']}",
            "see report.html; fix the config and rerun (failed points run again)",
        )
