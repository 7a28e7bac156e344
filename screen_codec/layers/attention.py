"""Window-based attention block of WACNN (Zou et al., CVPR 2022, "The Devil Is in the Details:
Window-based Attention for Image Compression").

The block is a gated residual::

    x ──► [ResidualUnit xR] ───────────────────────────────── a ──┐
    x ──► [WindowAttention] ─► [ResidualUnit xR] ─► 1x1 ─► b ─► a * sigmoid(b) + x

Window attention is multi-head self-attention inside non-overlapping ``window x window``
patches with a learned relative-position bias; with ``shift > 0`` the grid is cyclically
shifted first (Swin-style) and a mask keeps attention inside each original region. Inputs must
have H and W divisible by ``window`` (the codec pads images to multiples of 64, which gives this
for window 8 at 1/4 and window 4 at 1/16 resolution).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .basic import ResidualUnit, conv1x1


def _window_partition(x: Tensor, window: int) -> Tensor:
    """(B, H, W, C) -> (B * nW, window * window, C)."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window * window, c)


def _window_reverse(windows: Tensor, window: int, b: int, h: int, w: int) -> Tensor:
    """(B * nW, window * window, C) -> (B, H, W, C)."""
    c = windows.shape[-1]
    x = windows.view(b, h // window, w // window, window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)


def _shift_mask(h: int, w: int, window: int, shift: int, device: torch.device) -> Tensor:
    """Additive mask (nW, window^2, window^2): -100 between tokens of different shifted regions.

    Built from comparisons on arange so it traces to ONNX with dynamic H and W.
    """
    rows = torch.arange(h, device=device)
    cols = torch.arange(w, device=device)
    row_region = (rows >= h - window).long() + (rows >= h - shift).long()
    col_region = (cols >= w - window).long() + (cols >= w - shift).long()
    region = (row_region[:, None] * 3 + col_region[None, :]).float()
    region_windows = _window_partition(region[None, :, :, None], window).squeeze(-1)
    different = region_windows[:, :, None] != region_windows[:, None, :]
    return different.float() * -100.0


class WindowAttention(nn.Module):
    """Multi-head self-attention within windows, with a relative-position bias."""

    def __init__(self, dim: int, window: int, heads: int) -> None:
        super().__init__()
        self.window = window
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        coords = torch.stack(
            torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
        ).flatten(1)
        relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
        self.register_buffer(
            "bias_index", relative[..., 0] * (2 * window - 1) + relative[..., 1], persistent=False
        )

    def forward(self, windows: Tensor, mask: Tensor | None) -> Tensor:
        n_windows, tokens, dim = windows.shape
        qkv = self.qkv(windows).reshape(n_windows, tokens, 3, self.heads, dim // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        attention = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.bias_table[self.bias_index.reshape(-1)].reshape(tokens, tokens, -1)
        attention = attention + bias.permute(2, 0, 1)[None]
        if mask is not None:
            groups = mask.shape[0]
            attention = attention.view(-1, groups, self.heads, tokens, tokens) + mask[None, :, None]
            attention = attention.view(n_windows, self.heads, tokens, tokens)
        out = attention.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(n_windows, tokens, dim))


class ShiftedWindowAttention(nn.Module):
    """Window attention on a (B, C, H, W) map with an optional cyclic shift (Swin)."""

    def __init__(self, dim: int, window: int, shift: int, heads: int) -> None:
        super().__init__()
        self.window = window
        self.shift = shift
        self.attention = WindowAttention(dim, window, heads)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        tokens = x.permute(0, 2, 3, 1)
        mask = None
        if self.shift:
            tokens = torch.roll(tokens, shifts=(-self.shift, -self.shift), dims=(1, 2))
            mask = _shift_mask(h, w, self.window, self.shift, x.device)
        windows = self.attention(_window_partition(tokens, self.window), mask)
        tokens = _window_reverse(windows, self.window, b, h, w)
        if self.shift:
            tokens = torch.roll(tokens, shifts=(self.shift, self.shift), dims=(1, 2))
        return tokens.permute(0, 3, 1, 2)


class WindowAttentionBlock(nn.Module):
    """WACNN's gated window-attention block: ``a * sigmoid(b) + x`` (see module docstring)."""

    def __init__(
        self, dim: int, window: int, shift: int, heads: int, residual_units: int = 3
    ) -> None:
        super().__init__()
        self.trunk = nn.Sequential(*(ResidualUnit(dim) for _ in range(residual_units)))
        self.gate = nn.Sequential(
            ShiftedWindowAttention(dim, window, shift, heads),
            *(ResidualUnit(dim) for _ in range(residual_units)),
            conv1x1(dim, dim),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.trunk(x) * torch.sigmoid(self.gate(x)) + x
