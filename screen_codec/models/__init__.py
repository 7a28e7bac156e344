"""Models registered by configuration name: ``build_model("paper" | "wacnn" | "compact")``."""

from __future__ import annotations

from .config import CONFIGS, PAPER_LAMBDAS, ModelConfig, get_config
from .screen_content import ScreenContentCodec


def build_model(name: str, **overrides: object) -> ScreenContentCodec:
    """A freshly initialised model of the registered configuration ``name``."""
    return ScreenContentCodec(get_config(name, **overrides))


def parameter_counts(model: ScreenContentCodec) -> dict[str, int]:
    """Parameters per top-level part and in total."""
    counts = {
        name: sum(p.numel() for p in module.parameters()) for name, module in model.named_children()
    }
    counts["total"] = sum(counts.values())
    return counts


__all__ = [
    "CONFIGS",
    "PAPER_LAMBDAS",
    "ModelConfig",
    "ScreenContentCodec",
    "build_model",
    "get_config",
    "parameter_counts",
]
