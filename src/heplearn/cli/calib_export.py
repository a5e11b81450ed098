"""``heplearn calib export``: the trained network as ONNX for experiment software."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from heplearn.data.atomic import (
    atomic_output,
    check_output,
    read_saved_text,
    write_text_atomically,
)
from heplearn.errors import DataError

__all__ = ["export_command"]


def export_command(
    run: Path = typer.Option(..., "--run", "-r", help="Run folder written by calib train."),
    out: Path = typer.Option(..., "--out", "-o", help="ONNX file to write (e.g. model.onnx)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing file."),
) -> None:
    """Export the run's network to ONNX (inputs images, scalars, tracks; output target[, ln σ²]).

    The inputs are the scaled features: OUT's sibling ``<name>.scalers.json`` holds the
    scalers (plain JSON) and the output is r = E_truth/E_acc (or its inverse, see config).
    The export is checked against torch with onnxruntime before it is renamed into place, so
    a failed export (even with --overwrite) leaves an earlier model and its scalers intact.
    """
    import numpy as np
    import torch

    from heplearn.calib.calibrated import CalibRun
    from heplearn.calib.onnx_export import export_onnx, onnx_predict

    scalers = out.with_name(f"{out.stem}.scalers.json")
    for path in (out, scalers):
        check_output(path, overwrite)  # refuse before the export, not after
    loaded = CalibRun.load(run)
    if loaded.model is None:
        raise DataError(
            "no network to export",
            str(run),
            "the run was trained with network: none (BDT only; its bdt.json is XGBoost JSON)",
            "train a network, or use bdt.json with XGBoost directly",
        )
    shapes = loaded.shapes
    scaler_text = read_saved_text(loaded.folder.scalers, "scaler")
    # The parity check runs on the temporary file: a failed export leaves an older model intact.
    with atomic_output(out, overwrite=overwrite) as tmp:
        export_onnx(loaded.model, shapes, tmp)
        rng = np.random.default_rng(0)
        inputs = [
            rng.normal(size=(64, *shape)).astype(np.float32)
            for shape in (shapes.image, (shapes.scalars,), shapes.tracks)
        ]
        with torch.inference_mode():
            expected = loaded.model(*(torch.from_numpy(x) for x in inputs)).numpy()
        got = onnx_predict(tmp, *inputs)
        worst = float(np.max(np.abs(got - expected) / np.maximum(np.abs(expected), 1e-3)))
        if worst > 1e-4:
            raise DataError(
                "ONNX export does not reproduce the network",
                str(run),
                f"max relative difference {worst:.2e} > 1e-4 on random inputs",
                "report this with --debug; the torch weights in the run are unaffected",
            )
        # The scalers go in first, so the model never appears without its scalers.
        write_text_atomically(scalers, scaler_text, overwrite=overwrite)
    Console().print(f"wrote {out} and {scalers} (onnxruntime parity: max rel. diff {worst:.1e})")
