"""Model configurations, registered by name.

``paper``    WACNN backbone (N=192, M=320, 10 slices) + EPG + SEM: the method of the paper.
``wacnn``    the same backbone with EPG/SEM off: the paper's baseline.
``compact``  the same components, narrower (<= 15M parameters) for CPU serving: the bundled default.
``lite``     narrower again (N=32, M=128, 4 slices) for the 720p <= 1 s budget on two CPU cores.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

PAPER_LAMBDAS = (0.0018, 0.0035, 0.0067, 0.0130, 0.025)


@dataclass(frozen=True)
class ModelConfig:
    name: str
    N: int  # channels of the image-side transforms
    M: int  # channels of y
    Z: int  # channels of the hyper-latent z
    num_slices: int = 10
    max_support: int = 5
    slice_hidden: tuple[int, ...] = (224, 176, 128, 64)
    heads: int = 8
    kernel: int = 5  # kernel of the strided (de)convolutions of g_a / g_s
    residual_units: int = 3  # per branch of each window-attention block
    sem: bool = True  # EPG + SEM on (paper) or off (WACNN baseline)
    prior_ch: int = 64  # FEM / NESFT width
    prior_eps: float = 0.1  # eps of eq. (6)
    lambdas: tuple[float, ...] = PAPER_LAMBDAS  # one per quality level (gain units)
    # Slice means/scales computed for y / gain_q and scaled by gain_q (entropy/slices.py): the
    # entropy model then serves every quality with one set of statistics.
    equivariant_entropy: bool = False

    @property
    def num_qualities(self) -> int:
        return len(self.lambdas)

    def to_json(self) -> str:
        """The configuration as JSON; fields added later are left out at their default, so the
        configuration (and the model id hashed over it) of a model trained before them is unchanged."""
        fields = dataclasses.asdict(self)
        for name, default in _ADDED_FIELD_DEFAULTS.items():
            if fields[name] == default:
                del fields[name]
        return json.dumps(fields, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        fields = {f.name: f.type for f in dataclasses.fields(cls)}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in fields}
        return cls(**values)


_ADDED_FIELD_DEFAULTS = {"equivariant_entropy": False}

CONFIGS: dict[str, ModelConfig] = {
    "paper": ModelConfig(name="paper", N=192, M=320, Z=192),
    "wacnn": ModelConfig(name="wacnn", N=192, M=320, Z=192, sem=False),
    "compact": ModelConfig(
        name="compact",
        N=64,
        M=160,
        Z=64,
        num_slices=5,
        max_support=4,
        slice_hidden=(48, 40, 32, 32),
        heads=4,
        kernel=3,
        residual_units=1,
        prior_ch=16,
    ),
    "lite": ModelConfig(
        name="lite",
        N=32,
        M=128,
        Z=64,
        num_slices=4,
        max_support=3,
        slice_hidden=(32, 32, 32, 32),
        heads=4,
        kernel=3,
        residual_units=1,
        prior_ch=16,
    ),
}


def get_config(name: str, **overrides: object) -> ModelConfig:
    """The registered configuration ``name``, with optional field overrides."""
    if name not in CONFIGS:
        raise KeyError(f"unknown model configuration {name!r}; known: {sorted(CONFIGS)}")
    return dataclasses.replace(CONFIGS[name], **overrides)
