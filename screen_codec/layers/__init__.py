"""Network layers: convolution helpers, WACNN window attention, and the SEM (FEM + NESFT)."""

from .attention import WindowAttentionBlock
from .basic import ResidualUnit, conv, conv1x1, conv3x3, deconv, subpel_conv3x3
from .sem import NESFT, FeatureExtraction

__all__ = [
    "NESFT",
    "FeatureExtraction",
    "ResidualUnit",
    "WindowAttentionBlock",
    "conv",
    "conv1x1",
    "conv3x3",
    "deconv",
    "subpel_conv3x3",
]
