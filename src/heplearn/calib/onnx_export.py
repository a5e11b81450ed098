"""ONNX export of a calibration network and inference with onnxruntime, for experiment software.

The file has three inputs ``images`` (N, C, H, W), ``scalars`` (N, S) and ``tracks``
(N, T, F), float32 with a dynamic batch axis N, and one output ``output`` (N, 1) or (N, 2).
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from heplearn.calib.inputs import InputShapes
from heplearn.errors import DataError

__all__ = ["INPUT_NAMES", "OUTPUT_NAME", "OnnxCalibrator", "export_onnx", "onnx_predict"]

INPUT_NAMES = ("images", "scalars", "tracks")
OUTPUT_NAME = "output"


def export_onnx(model: nn.Module, shapes: InputShapes, path: str | Path) -> Path:
    """Write ``model`` in eval mode to ``path`` as ONNX (torch.export-based exporter).

    The file appears complete or not at all: it is written under a temporary name in the
    same folder and then renamed.  The model's train/eval mode is restored afterwards.
    """
    path = Path(path)
    # batch 3 is unlikely to equal any other axis, so the exporter cannot confuse them
    device = next(model.parameters()).device
    example = _example_inputs(shapes, batch=3, device=device)
    # the images name the batch axis; the others follow it (or stay free when unused)
    follow = {0: torch.export.Dim.DYNAMIC}
    dynamic = ({0: torch.export.Dim("batch", min=1)}, follow, follow)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    was_training = model.training
    model.eval()
    try:
        with _quiet_exporter():
            torch.onnx.export(
                model,
                example,
                str(partial),
                input_names=list(INPUT_NAMES),
                output_names=[OUTPUT_NAME],
                dynamic_shapes=dynamic,
                external_data=False,
                dynamo=True,
                verbose=False,
            )
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
        model.train(was_training)
    return path


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence what torch's exporter says about itself, not about the model."""
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)  # "torchvision is not installed" notes
    try:
        with warnings.catch_warnings():
            # torch 2.13's export passes trip over torch's own pytree deprecation
            warnings.filterwarnings(
                "ignore", message=".*treespec, LeafSpec", category=FutureWarning
            )
            yield
    finally:
        registration.setLevel(level)


def _example_inputs(
    shapes: InputShapes, batch: int, device: torch.device
) -> tuple[torch.Tensor, ...]:
    return (
        torch.zeros(batch, *shapes.image, device=device),
        torch.zeros(batch, shapes.scalars, device=device),
        torch.zeros(batch, *shapes.tracks, device=device),
    )


class OnnxCalibrator:
    """An exported calibration model opened once with onnxruntime (CPU), for many batches.

    Raises DataError when ``path`` is not a readable ONNX calibration model.
    """

    def __init__(self, path: str | Path) -> None:
        import onnxruntime

        self.path = Path(path)
        if not self.path.is_file():
            raise DataError("ONNX model", str(self.path), "no such file", "check the path")
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: the batch log is not the place for ORT notes
        try:
            self.session = onnxruntime.InferenceSession(
                str(self.path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as err:  # onnxruntime raises its own untyped errors for bad files
            raise DataError(
                "not a valid ONNX model",
                str(self.path),
                _first_line(err),
                "re-export the model with export_onnx",
            ) from err
        self.inputs = {i.name for i in self.session.get_inputs()}
        outputs = [o.name for o in self.session.get_outputs()]
        if not self.inputs <= set(INPUT_NAMES) or outputs != [OUTPUT_NAME]:
            raise DataError(
                "ONNX model",
                str(self.path),
                f"its inputs {sorted(self.inputs)} and outputs {outputs} are not those of a "
                f"calibration model ({', '.join(INPUT_NAMES)} → {OUTPUT_NAME})",
                "export it with export_onnx",
            )

    def __call__(
        self, images: npt.ArrayLike, scalars: npt.ArrayLike, tracks: npt.ArrayLike
    ) -> npt.NDArray[np.float32]:
        """The (N, 1) or (N, 2) output; DataError when the inputs do not fit the model."""
        given = dict(zip(INPUT_NAMES, (images, scalars, tracks), strict=True))
        # the exporter may drop an input the model ignores (e.g. tracks of the scouting CNN)
        feed = {n: np.ascontiguousarray(given[n], dtype=np.float32) for n in self.inputs}
        try:
            (result,) = self.session.run([OUTPUT_NAME], feed)
        except Exception as err:  # shape mismatches surface as onnxruntime runtime errors
            raise DataError(
                "inputs to the ONNX model",
                str(self.path),
                _first_line(err),
                "pass arrays with the shapes the model was exported for",
            ) from err
        return np.asarray(result, dtype=np.float32)


def onnx_predict(
    path: str | Path,
    images: npt.ArrayLike,
    scalars: npt.ArrayLike,
    tracks: npt.ArrayLike,
) -> npt.NDArray[np.float32]:
    """Run the exported model at ``path`` once on the CPU (see :class:`OnnxCalibrator`)."""
    return OnnxCalibrator(path)(images, scalars, tracks)


def _first_line(err: Exception) -> str:
    """The first line of onnxruntime's (often multi-line) message, for a one-line error."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
