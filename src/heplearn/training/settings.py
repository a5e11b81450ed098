"""The settings of the training loop (kind ``trainer``), shared by every torch model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from heplearn.config import register_config, setting
from heplearn.errors import ConfigError

__all__ = ["TrainerConfig"]


@register_config("trainer")
@dataclass(frozen=True)
class TrainerConfig:
    """Optimiser, schedule, batching, stopping, precision and device of one training run."""

    epochs: int = setting(30, low=1, high=100_000)
    batch_size: int = setting(2048, low=1, high=1_000_000, doc="thesis: 2048")
    optimizer: Literal["nadam", "adam", "adamw"] = setting("nadam", doc="thesis: Nadam")
    schedule: Literal["one-cycle", "cosine", "constant"] = setting("one-cycle")
    lr_min: float = setting(1e-4, low=1e-9, high=10.0, doc="lower end of the LR range (thesis)")
    lr_max: float = setting(0.04, low=1e-9, high=10.0, doc="peak LR of the one-cycle (thesis)")
    weight_decay: float = setting(0.0, low=0.0, high=1.0)
    grad_clip: float | None = setting(
        None,
        low=1e-6,
        high=1e6,
        doc="clip the gradient norm to this; tames the outlier steps of NLL losses",
    )
    patience: int = setting(10, low=0, high=100_000, doc="epochs without improvement; 0 = off")
    seed: int = setting(1, low=0, high=2**32 - 1)
    device: str = setting("auto", doc="auto (CUDA when present), cpu, cuda, cuda:N")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = setting(
        "auto", doc="auto: bf16 autocast on CUDA, fp32 on CPU"
    )
    compile: bool = setting(False, doc="torch.compile the model (slow start, faster steps)")
    resident_fraction: float = setting(
        0.6,
        low=0.0,
        high=1.0,
        doc="keep data on the GPU when it needs less than this of its memory",
    )

    def validate(self, where: str) -> None:
        if self.lr_min > self.lr_max:
            raise ConfigError(
                "lr_min is above lr_max",
                where,
                f"the LR range [{self.lr_min}, {self.lr_max}] is empty",
                "swap the two values",
            )
        if not (self.device in {"auto", "cpu", "cuda"} or self.device.startswith("cuda:")):
            raise ConfigError(
                f"unknown device {self.device!r}",
                where,
                "the device must be auto, cpu, cuda or cuda:N",
                "pick one of these",
            )
