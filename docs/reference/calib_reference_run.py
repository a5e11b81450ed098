"""Reproduce the reference-run table of docs/calib.md: run the four commands, print the table.

    python docs/reference/calib_reference_run.py --workdir /scratch/heplearn-ref

Steps whose output already exists are skipped, so a killed run picks up where it stopped
(each command also resumes or refuses to overwrite on its own).  With ``--table-only METRICS``
the table is printed from an existing ``metrics.json`` of ``calib evaluate``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs" / "calib"

STEPS = [
    ("gun-pu", ["generate", "calib", "--config", str(CONFIGS / "atlas-gun-pileup.yaml"),
                "--out", "gun-pu", "-j", "2"]),
    ("zee", ["generate", "calib", "--config", str(CONFIGS / "atlas-zee.yaml"),
             "--out", "zee", "-j", "2"]),
    ("ref", ["calib", "train", "--data", "gun-pu", "--out", "ref",
             "--config", str(CONFIGS / "train" / "reference-cpu.yaml")]),
    ("ref-zee", ["calib", "evaluate", "--run", "ref", "--data", "zee", "--out", "ref-zee",
                 "--no-importance"]),
]  # fmt: skip


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:+.1f} %"


def _num(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _fit(metrics: dict[str, Any], method: str) -> str:
    fit = metrics.get("mass_fits", {}).get(method, {})
    if "sigma" not in fit:
        return ""
    return f"{fit['sigma']:.2f} ± {fit['sigma_err']:.2f}"


def table(metrics: dict[str, Any]) -> str:
    """The markdown table of docs/calib.md from an evaluation's ``metrics.json``."""
    m = metrics.get
    rows = [
        "| | E_acc | BDT | DeepCalo_σ (thesis preset) |",
        "|---|---|---|---|",
        f"| eIQR of E/E_truth | {_num(m('eiqr_e_acc'))} | {_num(m('eiqr_bdt'))} "
        f"| {_num(m('eiqr_network'))} |",
        f"| eIQR95 | {_num(m('eiqr95_e_acc'), 3)} | {_num(m('eiqr95_bdt'), 3)} "
        f"| {_num(m('eiqr95_network'), 3)} |",
        f"| reIQR75 / reIQR95 vs BDT | | | {_pct(m('reiqr75_vs_bdt'))} / "
        f"{_pct(m('reiqr95_vs_bdt'))} |",
        f"| reIQR75 vs E_acc | | {_pct(m('reiqr75_bdt_vs_eacc'))} "
        f"| {_pct(m('reiqr75_vs_eacc'))} |",
        f"| σ_CB of the Z peak [GeV] | {_fit(metrics, 'e_acc')} | {_fit(metrics, 'bdt')} "
        f"| {_fit(metrics, 'network')} |",
    ]
    extra = (
        f"\n{m('n_clusters')} clusters, {m('mass_pairs')} pairs; "
        f"pull width {_num(m('pull_width'), 3)}"
    )
    return "\n".join(rows) + extra


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("heplearn-reference"))
    parser.add_argument("--table-only", type=Path, metavar="METRICS")
    args = parser.parse_args()
    if args.table_only is None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        for output, command in STEPS:
            if (args.workdir / output).exists():
                print(f"{output}: exists, skipped", file=sys.stderr)
                continue
            subprocess.run(["heplearn", *command], cwd=args.workdir, check=True)
        metrics_path = args.workdir / "ref-zee" / "metrics.json"
    else:
        metrics_path = args.table_only
    print(table(json.loads(metrics_path.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
