"""The DeepCalo network and the scouting CNN: connections, outputs, size, FiLM, a quick overfit."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from heplearn.calib.inputs import InputShapes
from heplearn.calib.models import (
    DEEPCALO_PRESETS,
    DeepCaloConfig,
    FiLM,
    ScoutingCNNConfig,
    build_model,
    deepcalo_preset,
)
from heplearn.calib.models.blocks import LOG_VARIANCE_RANGE
from heplearn.config import config_to_dict, parse_config
from heplearn.errors import ConfigError

#: Small shapes with odd image sides, so that every pooling has a ragged edge.
SHAPES = InputShapes(image=(4, 13, 7), scalars=6, tracks=(5, 4))
SIDES = [(), ("scalars",), ("tracks",), ("scalars", "tracks")]
#: Every FiLM × Top combination of thesis Table 4.4 (incl. the three it did not test).
CONNECTIONS = list(itertools.product(SIDES, SIDES))


def _inputs(shapes: InputShapes, n: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n, *shapes.image, generator=generator),
        torch.randn(n, shapes.scalars, generator=generator),
        torch.randn(n, *shapes.tracks, generator=generator),
    )


def _tiny(**changes: object) -> DeepCaloConfig:
    return dataclasses.replace(deepcalo_preset("tiny"), **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("uncertainty", [False, True])
@pytest.mark.parametrize(("film", "top"), CONNECTIONS, ids=lambda c: "+".join(c) or "none")
def test_every_connection_gives_the_output_shape(
    film: tuple[str, ...], top: tuple[str, ...], uncertainty: bool
) -> None:
    torch.manual_seed(0)
    model = build_model(_tiny(film_inputs=film, top_inputs=top, uncertainty=uncertainty), SHAPES)
    model.train()
    out = model(*_inputs(SHAPES, 8))
    assert out.shape == (8, 2 if uncertainty else 1)
    assert torch.isfinite(out).all()
    assert (out[:, 0] >= 0).all()  # ReLU on the energy column
    if uncertainty:
        low, high = LOG_VARIANCE_RANGE
        assert ((out[:, 1] >= low) & (out[:, 1] <= high)).all()


@pytest.mark.parametrize("global_pooling", ["max", "avg", "flatten"])
@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_pooling_survives_the_atlas_image(pooling: str, global_pooling: str) -> None:
    shapes = InputShapes(image=(4, 56, 11), scalars=3, tracks=(0, 0))
    config = _tiny(blocks=4, depth=1, pooling=pooling, global_pooling=global_pooling, top_inputs=())
    model = build_model(config, shapes).eval()
    with torch.no_grad():
        out = model(torch.rand(5, 4, 56, 11), torch.rand(5, 3), torch.zeros(5, 0, 0))
    assert out.shape == (5, 1)


def test_relu_output_is_non_negative_even_when_pushed_down() -> None:
    model = build_model(_tiny(), SHAPES).eval()
    with torch.no_grad():
        model.head.linear.bias.fill_(-100.0)
        out = model(*_inputs(SHAPES, 16))
    assert torch.equal(out, torch.zeros_like(out))


@pytest.mark.parametrize("scalars", [13, 20])
def test_thesis_preset_has_about_2_2_million_parameters(scalars: int) -> None:
    shapes = InputShapes(image=(4, 56, 11), scalars=scalars, tracks=(15, 10))
    model = build_model(deepcalo_preset("thesis"), shapes)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"thesis DeepCalo with {scalars} scalars: {trainable:,} trainable parameters")
    assert 1_800_000 <= trainable <= 2_600_000  # thesis: 2,194,851 trainable


def test_tiny_preset_has_a_few_ten_thousand_parameters() -> None:
    model = build_model(deepcalo_preset("tiny"), InputShapes((4, 56, 11), 16, (15, 10)))
    trainable = sum(p.numel() for p in model.parameters())
    print(f"tiny DeepCalo: {trainable:,} parameters")
    assert 5_000 <= trainable <= 100_000


def test_film_with_zero_gamma_and_beta_is_the_identity() -> None:
    x = torch.randn(3, 5, 4, 2)
    zeros = torch.zeros(3, 5)
    assert torch.equal(FiLM()(x, zeros, zeros), x)
    gamma, beta = torch.full((3, 5), 1.0), torch.full((3, 5), 2.0)
    torch.testing.assert_close(FiLM()(x, gamma, beta), 2 * x + 2)


def test_film_generator_starts_at_the_identity() -> None:
    config = _tiny(film_inputs=("scalars", "tracks"), top_inputs=())
    model = build_model(config, SHAPES).eval()
    images, scalars, tracks = _inputs(SHAPES, 4)
    with torch.no_grad():
        out = model(images, scalars, tracks)
        # other scalars/tracks change only the FiLM parameters, which start at γ = β = 0
        assert torch.equal(out, model(images, -scalars, tracks * 3))
        # ... and the output is live (not the ReLU's flat zero, which would pass trivially)
        assert (out > 0).all()
        assert not torch.equal(out, model(images * 2, scalars, tracks))


def test_nchw_and_nhwc_give_the_same_output() -> None:
    model = build_model(_tiny(), SHAPES).eval()
    images, scalars, tracks = _inputs(SHAPES, 8)
    with torch.no_grad():
        nhwc = model(images.contiguous(memory_format=torch.channels_last), scalars, tracks)
        model.to(memory_format=torch.contiguous_format)
        nchw = model(images, scalars, tracks)
    torch.testing.assert_close(nhwc, nchw, rtol=1e-5, atol=1e-6)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny kernels gain nothing from a second thread but stall on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("one_thread")
def test_tiny_model_overfits_a_small_sample() -> None:
    torch.manual_seed(1)
    images, scalars, tracks = _inputs(SHAPES, 256, seed=2)
    # a simple positive target from all three inputs
    target = (
        1.0
        + 0.3 * torch.tanh(images.mean(dim=(1, 2, 3)) * 5)
        + 0.2 * torch.tanh(scalars[:, 0])
        + 0.1 * torch.tanh(tracks[:, 0, 0])
    ).unsqueeze(1)
    model = build_model(_tiny(top_inputs=("scalars", "tracks")), SHAPES)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)

    def loss() -> torch.Tensor:
        return torch.nn.functional.mse_loss(model(images, scalars, tracks), target)

    # losses in train mode (batch statistics): the quantity the loop minimises
    model.train()
    with torch.no_grad():
        initial = loss().item()
    for _ in range(30):
        optimiser.zero_grad()
        value = loss()
        value.backward()
        optimiser.step()
    with torch.no_grad():
        final = loss().item()
    assert final < initial / 10, (initial, final)


@pytest.mark.parametrize(
    ("changes", "shapes", "field"),
    [
        ({"film_inputs": ("tracks",)}, InputShapes((4, 13, 7), 6, (0, 0)), "film_inputs"),
        (
            {"film_inputs": (), "top_inputs": ("scalars",)},
            InputShapes((4, 13, 7), 0, (5, 4)),
            "top_inputs",
        ),
        ({}, InputShapes((0, 0, 0), 6, (5, 4)), "images"),
    ],
)
def test_a_connection_to_a_missing_input_is_refused(
    changes: dict[str, object], shapes: InputShapes, field: str
) -> None:
    with pytest.raises(ConfigError, match=f"'{field}' in model.yaml: the model needs"):
        build_model(_tiny(**changes), shapes, where="model.yaml")


def test_unconnected_inputs_may_be_absent() -> None:
    shapes = InputShapes((4, 13, 7), 0, (0, 0))
    model = build_model(_tiny(film_inputs=(), top_inputs=()), shapes)
    out = model(torch.rand(2, 4, 13, 7), torch.zeros(2, 0), torch.zeros(2, 0, 0))
    assert out.shape == (2, 1)


def test_unknown_preset_lists_the_presets() -> None:
    with pytest.raises(ConfigError, match="thesis, tiny"):
        deepcalo_preset("huge")


def test_presets_round_trip_through_config_dicts() -> None:
    for name, config in DEEPCALO_PRESETS.items():
        assert parse_config(DeepCaloConfig, config_to_dict(config), name) == config


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"kernel": 4}, "odd kernel"),
        ({"film_inputs": ["scalars", "scalars"]}, "repeats"),
        ({"top_inputs": ["scalar"]}, "did you mean 'scalars'"),
        ({"blocks": 0}, "allowed range"),
    ],
)
def test_bad_settings_are_refused(settings: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_config(DeepCaloConfig, {"kind": "deepcalo", **settings}, "model.yaml")


@pytest.mark.parametrize("side", [5, 11])
@pytest.mark.parametrize("uncertainty", [False, True])
def test_scouting_cnn_on_crystal_windows(side: int, uncertainty: bool) -> None:
    shapes = InputShapes((1, side, side), scalars=20, tracks=(0, 0))
    model = build_model(ScoutingCNNConfig(uncertainty=uncertainty), shapes)
    out = model(torch.rand(8, 1, side, side), torch.randn(8, 20), torch.zeros(8, 0, 0))
    assert out.shape == (8, 2 if uncertainty else 1)
    assert (out[:, 0] >= 0).all()


def test_scouting_cnn_needs_scalars_unless_switched_off() -> None:
    shapes = InputShapes((1, 5, 5), scalars=0, tracks=(0, 0))
    with pytest.raises(ConfigError, match="field 'scalars'"):
        build_model(ScoutingCNNConfig(), shapes)
    model = build_model(ScoutingCNNConfig(scalars=False), shapes)
    assert model(torch.rand(3, 1, 5, 5), torch.zeros(3, 0), torch.zeros(3, 0, 0)).shape == (3, 1)


def test_a_config_that_is_not_a_model_is_refused() -> None:
    with pytest.raises(ConfigError, match="not describe a calibration network"):
        build_model(SHAPES, SHAPES)  # type: ignore[arg-type]


def test_untrained_heads_start_at_the_target_so_pulls_start_near_one() -> None:
    from heplearn.calib.train import start_at_target

    rng = np.random.default_rng(3)
    target = rng.normal(1.02, 0.04, 20_000)
    model = build_model(_tiny(uncertainty=True), SHAPES).eval()
    start_at_target(model, target)
    with torch.no_grad():
        out = model(*_inputs(SHAPES, 4))
    mean, sigma = out[:, 0].numpy(), np.exp(0.5 * out[:, 1].numpy())
    np.testing.assert_allclose(mean, mean[0])  # the same start whatever the cluster
    np.testing.assert_allclose(mean, 1.02, atol=2e-3)
    np.testing.assert_allclose(sigma, 0.04, rtol=0.03)
    pulls = (target - mean[0]) / sigma[0]
    q25, q75 = np.percentile(pulls, [25, 75])
    assert abs((q75 - q25) / 1.349 - 1.0) < 0.05
