"""``heplearn search train | evaluate | scan``: the dilepton + E_T^miss search comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["app", "likelihood_table", "significance_table"]

app = typer.Typer(
    help="New-physics search: cut-and-count vs classifiers, significance per signal point.",
    no_args_is_help=True,
)

_SHORT = {
    "thesis_cuts": "thesis",
    "optimised_cuts": "opt. cuts",
    "xgboost": "XGB",
    "nn": "NN",
    "parameterised_nn": "param. NN",
    "ensemble": "ens.",
}
_CONFIG_HELP = "search-train YAML (configs/search/train.yaml, train-quick.yaml)."
_DATA_HELP = "Search store of 'heplearn generate search' (or an imported one)."


def significance_table(metrics: dict[str, Any], title: str) -> Table:
    """A rich table of Z per signal point (rows) and method (columns)."""
    table = Table(title=title)
    methods = list(metrics["methods"])
    for column in ("signal point", *(_SHORT.get(m, m) for m in methods), "ML/thesis", "ML/opt."):
        table.add_column(column)

    def fmt(value: Any) -> str:
        return "–" if value is None else f"{float(value):.3g}"

    for point, z in metrics["significance"].items():
        table.add_row(
            point,
            *(fmt(z.get(m)) for m in methods),
            fmt(metrics["ratio_best_ml_vs_thesis_cuts"].get(point)),
            fmt(metrics["ratio_best_ml_vs_optimised_cuts"].get(point)),
        )
    return table


def likelihood_table(metrics: dict[str, Any]) -> Table | None:
    """The headline: likelihood Z and [expected 95 % CLs limit on μ] per point and method."""
    from heplearn.search.likelihood_report import settings_line

    results = metrics.get("likelihood")
    if not results:
        return None
    methods = list(metrics["methods"])
    limits = " [expected 95 % CLs limit on μ]" if metrics["likelihood_settings"]["limits"] else ""
    table = Table(
        title=escape(f"Profile-likelihood expected Z{limits}, ee + μμ; {settings_line(metrics)}")
    )
    for column in ("signal point", *(_SHORT.get(m, m) for m in methods)):
        table.add_column(column)

    def cell(entry: dict[str, Any] | None) -> str:
        if entry is None or entry["z_expected"] is None:
            return "–"
        limit = entry.get("limit_expected")
        text = f"{entry['z_expected']:.3g}" + ("" if limit is None else f" [{limit:.3g}]")
        if entry.get("z_observed") is not None:
            observed = entry.get("limit_observed")
            text += f"; obs. {entry['z_observed']:.3g}"
            text += "" if observed is None else f" [{observed:.3g}]"
        return text

    for point, by_method in results.items():
        table.add_row(point, *(cell(by_method.get(m)) for m in methods))
    return table


def _print_results(metrics: dict[str, Any], out: Path) -> None:
    console = Console()
    headline = likelihood_table(metrics)
    if headline is not None:
        console.print(headline)
    console.print(significance_table(metrics, _z_title(metrics)))
    for warning in [*metrics["warnings"], *metrics.get("likelihood_warnings", [])]:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", soft_wrap=True)
    low = metrics.get("low_statistics") or []
    if low:
        limit = metrics["likelihood_settings"]["min_effective_events"]
        console.print(
            f"[yellow]warning:[/yellow] {len(low)} selected background bin(s) rest on fewer "
            f"than {limit:g} effective simulated events, e.g. {escape(low[0])} "
            "(all in the report)",
            soft_wrap=True,
        )
    console.print(f"report: {out / 'report.html'}")


def _z_title(metrics: dict[str, Any]) -> str:
    return (
        f"Asimov Z (σ_b = {float(metrics['sigma_b']):.0%}) on {metrics['events']['evaluated']} "
        f"events ({metrics['selection']})"
    )


def _echo(line: str) -> None:
    Console().print(line, highlight=False, markup=False)


@app.command(name="train")
def train_command(
    config: Path = typer.Option(..., "--config", "-c", help=_CONFIG_HELP),
    data: Path = typer.Option(..., "--data", "-d", help=_DATA_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder to write."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing run folder."),
) -> None:
    """Train every method of the config per signal point; thresholds chosen on validation events.

    Examples:

      heplearn search train --config configs/search/train-quick.yaml --data search-quick --out run

      heplearn search train --config configs/search/train.yaml --data dm --out run-full
    """
    from heplearn.config import load_config
    from heplearn.data.atomic import check_output
    from heplearn.search.train import train_search
    from heplearn.search.train_config import SearchTrainConfig

    settings = load_config(SearchTrainConfig, config)
    check_output(out, overwrite)
    info = train_search(settings, data, out, overwrite=overwrite, progress=True, echo=_echo)
    table = Table(title="Asimov Z on the validation split at the chosen score thresholds")
    methods = list(settings.ml_methods)
    for column in ("signal point", "opt. cuts (train)", *(_SHORT[m] for m in methods)):
        table.add_column(column)
    for point in info["points"]:
        name = point["name"]
        cuts = info["cuts"][name].get("optimised_train")
        chosen = info["thresholds"].get(name, {})
        table.add_row(
            name,
            "–" if cuts is None else f"{cuts['z']:.3g}",
            *(f"{chosen[m]['validation']['z']:.3g}" for m in methods),
        )
    console = Console()
    console.print(table)
    for warning in info["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    console.print(f"trained {len(info['points'])} signal points in {info['seconds']:.1f} s → {out}")


@app.command(name="evaluate")
def evaluate_command(
    run: Path = typer.Option(..., "--run", "-r", help="Run folder of 'heplearn search train'."),
    data: Path = typer.Option(..., "--data", "-d", help=_DATA_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Evaluation folder to write."),
    observed: Path | None = typer.Option(
        None,
        "--observed",
        help="Store of real or pseudo events: its counts after each selection are the "
        "likelihood's data (observed Z and limit beside the expected ones).",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing folder."),
) -> None:
    """Likelihood Z and limits (pyhf, ee + μμ), Asimov Z, yields, ROC/AUC, KS check, report.

    On the store the run was trained on only its test split is used; another store is
    evaluated whole.

    Example:

      heplearn search evaluate --run run --data search-quick --out eval

      heplearn search evaluate --run run --data dm --observed pseudo-data --out eval-data
    """
    from heplearn.data.atomic import check_output
    from heplearn.search.evaluate import evaluate_search
    from heplearn.search.evaluation_report import write_search_evaluation

    check_output(out, overwrite)
    evaluation = evaluate_search(run, data, observed)
    write_search_evaluation(evaluation, out, overwrite=overwrite)
    _print_results(evaluation.metrics, out)


@app.command(name="scan")
def scan_command(
    config: Path = typer.Option(..., "--config", "-c", help=_CONFIG_HELP),
    data: Path = typer.Option(..., "--data", "-d", help=_DATA_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the run and the comparison."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing folder."),
) -> None:
    """Train every method the config lists and write the side-by-side comparison (OUT/run + OUT).

    Examples:

      heplearn generate search --config configs/search/quick.yaml --out search-quick

      heplearn search scan --config configs/search/train-quick.yaml --data search-quick --out scan
    """
    from heplearn.config import load_config
    from heplearn.data.atomic import check_output
    from heplearn.search.scan import scan_search
    from heplearn.search.train_config import SearchTrainConfig

    settings = load_config(SearchTrainConfig, config)
    check_output(out, overwrite)
    evaluation = scan_search(settings, data, out, overwrite=overwrite, progress=True, echo=_echo)
    _print_results(evaluation.metrics, out)


@app.command(name="study")
def study_command(
    config: Path = typer.Option(..., "--config", "-c", help=_CONFIG_HELP),
    data: Path = typer.Option(..., "--data", "-d", help=_DATA_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Study folder: runs/<variant>, comparison."),
    vary: list[str] = typer.Option(
        ...,
        "--vary",
        help="KEY=v1,v2,… : a config field by dotted path and its values; repeat for "
        "every combination.",
    ),
    workers: int = typer.Option(1, "--workers", "-j", min=1, help="Local worker processes."),
    dask: str | None = typer.Option(None, "--dask", help="Address of a Dask scheduler."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing folder."),
) -> None:
    """One search run per --vary value on the same split, then one comparison report.

    Each variant is a 'search scan' folder OUT/runs/KEY=value; OUT/comparison.json and
    OUT/report.html compare AUC, Asimov Z, likelihood Z and expected limits per value, point
    and method. A killed study resumes: rerun the same command (finished variants are skipped).

    Examples:

      heplearn search study --config configs/search/train-quick.yaml --data search-quick
      --out weights --vary weights.scheme=none,mc,count-balance,weight-balance -j 2

      heplearn search study -c train.yaml -d dm -o depth --vary models.nn.hidden_layers=1,3
      --vary padding=thesis,mean --dask tcp://host:8786
    """
    from heplearn.config import load_config
    from heplearn.data.atomic import check_output
    from heplearn.search.study import run_study
    from heplearn.search.study_variants import parse_vary, study_variants
    from heplearn.search.train_config import SearchTrainConfig

    settings = load_config(SearchTrainConfig, config)
    parsed = parse_vary(vary)
    variants = study_variants(settings, parsed, str(config))
    check_output(out, overwrite)
    comparison = run_study(
        variants,
        data,
        out,
        vary=parsed,
        workers=workers,
        dask=dask,
        overwrite=overwrite,
        echo=_echo,
    )
    table = Table(title="Test split per variant: AUC / Asimov Z / likelihood Z, per point")
    methods = [m for m in comparison["methods"] if m != "thesis_cuts"]
    for column in ("variant", "signal point", *(_SHORT.get(m, m) for m in methods)):
        table.add_column(column)

    def cell(entry: dict[str, Any] | None) -> str:
        if entry is None:
            return "–"
        return " / ".join(
            "–" if entry[q] is None else f"{entry[q]:.3g}"
            for q in ("auc", "z_asimov", "z_likelihood")
        )

    for variant in comparison["variants"]:
        for point, by_method in comparison["results"][variant["name"]].items():
            table.add_row(variant["name"], point, *(cell(by_method.get(m)) for m in methods))
    Console().print(table)
    Console().print(f"report: {out / 'report.html'}")


@app.command(name="tune")
def tune_command(
    config: Path = typer.Option(..., "--config", "-c", help=_CONFIG_HELP),
    data: Path = typer.Option(..., "--data", "-d", help=_DATA_HELP),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Folder for the study, best.yaml, tuning.json."
    ),
    method: str = typer.Option("xgboost", "--method", "-m", help="xgboost or nn."),
    objective: str = typer.Option(
        "z", "--objective", help="z (validation Asimov Z at the best threshold) or auc."
    ),
    trials: int = typer.Option(30, "--trials", "-n", min=1, help="Completed trials in all."),
    storage: str | None = typer.Option(
        None,
        "--storage",
        help="sqlite:///OUT/study.db by default; a database URL or journal:PATH to share "
        "one study between workers.",
    ),
    study: str | None = typer.Option(None, "--study", help="Study name (default: the method)."),
    timeout: float | None = typer.Option(None, "--timeout", help="Start no trial after N s."),
) -> None:
    """Tune XGBoost or the NN with Optuna (TPE) on the validation split; a killed study resumes.

    Every trial trains one classifier per signal point as 'search train' does. Writes
    OUT/best.yaml (the config with the best settings) and OUT/tuning.json (every trial),
    whole; the study is written in place, trial by trial, so rerunning resumes it (--trials is
    the total). Several workers run the same command with one shared --storage.

    Examples:

      heplearn search tune -c configs/search/train-quick.yaml -d search-quick -o tune-xgb

      heplearn search tune -c train.yaml -d dm -o tune-nn -m nn --objective auc -n 50
      --storage journal:/shared/tune-nn.log   (on every worker)
    """
    from heplearn.config import dump_config, load_config
    from heplearn.data.atomic import write_text_atomically
    from heplearn.report.metrics_json import write_metrics_json
    from heplearn.search.train_config import SearchTrainConfig
    from heplearn.search.tuning import check_options, prepare_tuning, tune_search

    check_options(method, objective)
    settings = load_config(SearchTrainConfig, config)
    prepared = prepare_tuning(settings, data)  # before OUT exists: bad input leaves none
    out.mkdir(parents=True, exist_ok=True)
    url = storage or f"sqlite:///{(out / 'study.db').resolve()}"
    result = tune_search(
        settings,
        prepared,
        method=method,
        objective=objective,
        n_trials=trials,
        storage=url,
        study_name=study or method,
        timeout_s=timeout,
        echo=_echo,
    )
    summary = {
        "method": method,
        "objective": objective,
        "storage": url,
        "study": study or method,
        "best_value": result.best_value,
        "best_params": result.best_params,
        "n_trials": result.n_trials,
        "trials": result.trials,
    }
    write_metrics_json(out / "tuning.json", summary, overwrite=True)
    write_text_atomically(out / "best.yaml", dump_config(result.config), overwrite=True)
    console = Console()
    console.print(
        f"best validation {objective} {result.best_value:.4g} after {result.n_trials} trials "
        f"({result.n_new_trials} new): {escape(str(result.best_params))}",
        soft_wrap=True,
    )
    console.print(f"best config: {out / 'best.yaml'}")
