"""ONNX export: onnxruntime reproduces torch (eval mode) for DeepCalo and the scouting CNN."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from heplearn.calib.inputs import InputShapes
from heplearn.calib.models import ScoutingCNNConfig, build_model, deepcalo_preset
from heplearn.calib.onnx_export import export_onnx, onnx_predict
from heplearn.errors import DataError

DEEPCALO_SHAPES = InputShapes(image=(4, 13, 7), scalars=6, tracks=(5, 4))
SCOUTING_SHAPES = InputShapes(image=(1, 5, 5), scalars=8, tracks=(0, 0))


def _randomise(model: nn.Module, seed: int) -> nn.Module:
    """Random weights and BN statistics, so that FiLM, BN and both heads all matter."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            if tensor.is_floating_point():
                tensor.copy_(0.3 * torch.randn(tensor.shape, generator=generator))
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                assert module.running_var is not None
                module.running_var.uniform_(0.5, 2.0, generator=generator)
    return model


@dataclass(frozen=True)
class Exported:
    model: nn.Module
    path: Path
    training_after_export: bool


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Exported]:
    """The tiny DeepCalo (FiLM from scalars, tracks in Top, ln σ² head) and the scouting CNN,
    exported from train mode (the export must switch to eval and back)."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("onnx")
    config = dataclasses.replace(
        deepcalo_preset("tiny"), film_inputs=("scalars",), top_inputs=("tracks",), uncertainty=True
    )
    models = {
        "deepcalo": (build_model(config, DEEPCALO_SHAPES), DEEPCALO_SHAPES),
        "scouting": (build_model(ScoutingCNNConfig(), SCOUTING_SHAPES), SCOUTING_SHAPES),
    }
    result = {}
    for seed, (name, (model, shapes)) in enumerate(models.items()):
        _randomise(model, seed).train()
        path = export_onnx(model, shapes, folder / f"{name}.onnx")
        training = model.training
        result[name] = Exported(model.eval(), path, training_after_export=training)
    return result


@pytest.mark.parametrize("batch", [64, 1])
@pytest.mark.parametrize("name", ["deepcalo", "scouting"])
def test_onnxruntime_matches_torch(exported: dict[str, Exported], name: str, batch: int) -> None:
    model, path = exported[name].model, exported[name].path
    shapes = DEEPCALO_SHAPES if name == "deepcalo" else SCOUTING_SHAPES
    generator = torch.Generator().manual_seed(batch)
    inputs = (
        torch.rand(batch, *shapes.image, generator=generator),
        torch.randn(batch, shapes.scalars, generator=generator),
        torch.randn(batch, *shapes.tracks, generator=generator),
    )
    with torch.no_grad():
        expected = model(*inputs).numpy()
    got = onnx_predict(path, *(x.numpy() for x in inputs))
    assert got.shape == expected.shape == (batch, 2 if name == "deepcalo" else 1)
    relative = np.abs(got - expected) / np.maximum(np.abs(expected), 1e-3)
    assert relative.max() < 1e-4


def test_export_leaves_no_partial_file_and_restores_train_mode(
    exported: dict[str, Exported],
) -> None:
    folder = exported["deepcalo"].path.parent
    assert sorted(p.name for p in folder.iterdir()) == ["deepcalo.onnx", "scouting.onnx"]
    assert all(e.training_after_export for e in exported.values())


@pytest.mark.parametrize("content", [b"", b"not an onnx model \x00\x01\x02"])
def test_a_file_that_is_not_onnx_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    x = np.zeros((2, 1, 5, 5), np.float32)
    with pytest.raises(DataError, match="not a valid ONNX model"):
        onnx_predict(path, x, np.zeros((2, 8), np.float32), np.zeros((2, 0, 0), np.float32))


def test_an_onnx_model_with_other_inputs_is_refused(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    tensor = helper.make_tensor_value_info
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [tensor("x", TensorProto.FLOAT, [None, 3])],
        [tensor("y", TensorProto.FLOAT, [None, 3])],
    )
    path = tmp_path / "identity.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(DataError, match="not those of a calibration model"):
        onnx_predict(path, np.zeros((1, 3)), np.zeros((1, 0)), np.zeros((1, 0, 0)))


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        onnx_predict(tmp_path / "absent.onnx", np.zeros((1, 1, 5, 5)), np.zeros((1, 8)), [])


def test_inputs_of_the_wrong_shape_are_refused(exported: dict[str, Exported]) -> None:
    path = exported["scouting"].path
    with pytest.raises(DataError, match="shapes the model was exported for"):
        onnx_predict(path, np.zeros((2, 1, 7, 7)), np.zeros((2, 8)), np.zeros((2, 0, 0)))
