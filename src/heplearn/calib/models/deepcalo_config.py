"""The DeepCalo network's settings (thesis Tables 4.4 and 4.5) and its named presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from heplearn.config import register_config, setting
from heplearn.errors import ConfigError

__all__ = ["DEEPCALO_PRESETS", "DeepCaloConfig", "SideInput", "deepcalo_preset"]

#: The optional inputs that can feed the FiLM generator and/or the Top net (thesis Table 4.4).
SideInput = Literal["scalars", "tracks"]


@register_config("deepcalo")
@dataclass(frozen=True)
class DeepCaloConfig:
    """CNNnet (FiLM-modulated conv blocks) + ScalarNet + TrackNet + FiLM generator + Top.

    The defaults are the thesis' final model (Table 4.5, appendix Fig. 9.35): a 16-channel
    stem block, then 3 blocks of depth 4 with 32, 64 and 128 channels, max-pooling between
    blocks, global max-pooling, ScalarNet → FiLM, TrackNet → Top (≈2.2M parameters).
    """

    first_width: int = setting(16, low=1, high=1024, doc="channels of the first block")
    stem: bool = setting(
        True,
        doc="a first block of one conv→BN→FiLM→LeakyReLU (thesis Fig. 9.35) before the blocks",
    )
    blocks: int = setting(3, low=1, high=8, doc="conv blocks after the stem; channels double")
    depth: int = setting(4, low=1, high=16, doc="convolutions per block (1 FiLM'd + depth−1)")
    kernel: int = setting(3, low=1, high=9, doc="conv kernel size k (k×k, odd)")
    pooling: Literal["max", "avg"] = setting("max", doc="2×2 down-sampling between blocks")
    global_pooling: Literal["max", "avg", "flatten"] = setting(
        "max", doc="how the last feature maps become a vector"
    )
    leaky_slope: float = setting(0.3, low=0.0, high=1.0, doc="LeakyReLU slope (Keras default)")
    scalar_units: tuple[int, ...] = setting((256,), low=1, high=65536, doc="ScalarNet widths")
    track_kernel: int = setting(5, low=1, high=9, doc="TrackNet conv1d kernel (odd)")
    track_filters: int = setting(5, low=1, high=1024, doc="TrackNet conv1d filters")
    track_units: tuple[int, ...] = setting(
        (128, 64, 32, 16), low=1, high=65536, doc="TrackNet dense widths"
    )
    film_units: tuple[int, ...] = setting((512, 1024), low=1, high=65536, doc="FiLM gen. widths")
    top_units: tuple[int, ...] = setting((512, 512), low=1, high=65536, doc="Top hidden widths")
    film_inputs: tuple[SideInput, ...] = setting(
        ("scalars",), doc="what feeds the FiLM generator; empty: no FiLM"
    )
    top_inputs: tuple[SideInput, ...] = setting(
        ("tracks",), doc="what is concatenated to the CNN vector in Top"
    )
    uncertainty: bool = setting(False, doc="a second output column ln σ² (Gaussian NLL)")

    def validate(self, where: str) -> None:
        for name in ("kernel", "track_kernel"):
            if getattr(self, name) % 2 == 0:
                raise ConfigError(
                    f"field '{name}'",
                    where,
                    f"{getattr(self, name)} is even; 'same' padding needs an odd kernel",
                    f"use {getattr(self, name) + 1}",
                )
        for name in ("film_inputs", "top_inputs"):
            value = getattr(self, name)
            if len(set(value)) != len(value):
                raise ConfigError(
                    f"field '{name}'", where, f"{list(value)} repeats an input", "list each once"
                )

    @property
    def widths(self) -> tuple[int, ...]:
        """Channels of every conv block, stem first."""
        count = self.blocks + (1 if self.stem else 0)
        return tuple(self.first_width * 2**i for i in range(count))

    @property
    def depths(self) -> tuple[int, ...]:
        """Convolutions in every conv block, stem first."""
        return ((1,) if self.stem else ()) + (self.depth,) * self.blocks

    def uses(self, side: SideInput) -> bool:
        """Whether ``side`` feeds the FiLM generator or Top."""
        return side in self.film_inputs or side in self.top_inputs


#: Named DeepCalo configurations: the thesis' final model, a CPU-sized one with the thesis'
#: dense parts for reference runs without a GPU, and a tiny one for tests and demos.
DEEPCALO_PRESETS: dict[str, DeepCaloConfig] = {
    "thesis": DeepCaloConfig(),
    # ≈10× fewer conv multiply-adds than the thesis (no stem, 2 convolutions per block), since
    # on CPU the convolutions set the training rate; ScalarNet, FiLM generator and Top unchanged.
    "medium": dataclasses.replace(DeepCaloConfig(), stem=False, depth=2),
    "tiny": dataclasses.replace(
        DeepCaloConfig(),
        first_width=8,
        stem=False,
        blocks=2,
        depth=2,
        scalar_units=(32,),
        track_filters=4,
        track_units=(32, 16),
        film_units=(64,),
        top_units=(64, 32),
    ),
}


def deepcalo_preset(name: str) -> DeepCaloConfig:
    """The DeepCalo config called ``name`` (see :data:`DEEPCALO_PRESETS`)."""
    if name not in DEEPCALO_PRESETS:
        names = ", ".join(sorted(DEEPCALO_PRESETS))
        raise ConfigError(
            f"DeepCalo preset {name!r}",
            "the model settings",
            f"the presets are {names}",
            "pick one of them or write the settings out in a 'kind: deepcalo' config",
        )
    return DEEPCALO_PRESETS[name]
