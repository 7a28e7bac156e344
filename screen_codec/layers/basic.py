"""Convolution helpers and the residual unit shared by the WACNN transforms.

Down/up-sampling follows CompressAI's ``conv``/``deconv`` conventions (kernel 5, stride 2,
"same" padding) so the latent grid is exactly 1/16 of the (64-padded) image.
"""

from __future__ import annotations

from torch import Tensor, nn


def conv(in_ch: int, out_ch: int, kernel_size: int = 5, stride: int = 2) -> nn.Conv2d:
    """Strided convolution with 'same' padding: H -> H / stride."""
    return nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=kernel_size // 2)


def deconv(in_ch: int, out_ch: int, kernel_size: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    """Transposed convolution: H -> H * stride."""
    return nn.ConvTranspose2d(
        in_ch,
        out_ch,
        kernel_size,
        stride=stride,
        output_padding=stride - 1,
        padding=kernel_size // 2,
    )


def conv3x3(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1)


def conv1x1(in_ch: int, out_ch: int) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 1)


def subpel_conv3x3(in_ch: int, out_ch: int, factor: int = 2) -> nn.Sequential:
    """Sub-pixel upsampling: conv3x3 to ``out_ch * factor**2`` channels, then pixel shuffle."""
    return nn.Sequential(conv3x3(in_ch, out_ch * factor**2), nn.PixelShuffle(factor))


class ResidualUnit(nn.Module):
    """Bottleneck residual unit of WACNN: 1x1 (C -> C/2), 3x3, 1x1 (C/2 -> C), skip, GELU.

    ``x -> [1x1 -> GELU -> 3x3 -> GELU -> 1x1] + x -> GELU``
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        half = channels // 2
        self.body = nn.Sequential(
            conv1x1(channels, half),
            nn.GELU(),
            conv3x3(half, half),
            nn.GELU(),
            conv1x1(half, channels),
        )
        self.activation = nn.GELU()

    def forward(self, x: Tensor) -> Tensor:
        return self.activation(x + self.body(x))
