"""External prior guidance (EPG), paper eq. (5)-(6).

    (5) g   = |L * luma(x)| / 8,     L = [[1, 1, 1], [1, -8, 1], [1, 1, 1]]
    (6) g'  = (M + eps) * g / (eps + 1)
        g'_1 = avg_pool_16(g')       g' on the latent grid, for the hyper-encoder

x is RGB in [0, 1]; luma uses BT.601 weights. The Laplacian's output on [0, 1] images lies in
[-8, 8], so dividing its magnitude by 8 normalises g to [0, 1] with a constant (per-image max
normalisation would make a tile's prior depend on the rest of the image). M is the binary text
mask from a detector; eq. (6) keeps the full gradient on text and scales it by eps / (eps + 1)
elsewhere, so eps sets how much non-text structure survives. Borders are replicate-padded.

These run inside the analysis network (and so inside its ONNX graph): serving needs no second
implementation.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

LAPLACIAN_KERNEL = ((1.0, 1.0, 1.0), (1.0, -8.0, 1.0), (1.0, 1.0, 1.0))
_LUMA = (0.299, 0.587, 0.114)
LATENT_STRIDE = 16

def laplacian_magnitude(x: Tensor) -> Tensor:
    """Eq. (5): (B, 3, H, W) RGB in [0, 1] -> (B, 1, H, W) normalised gradient magnitude g."""
    luma = (x * x.new_tensor(_LUMA).view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
    kernel = x.new_tensor(LAPLACIAN_KERNEL).view(1, 1, 3, 3)
    response = F.conv2d(F.pad(luma, (1, 1, 1, 1), mode="replicate"), kernel)
    return response.abs() / 8.0

def refine_with_text_mask(g: Tensor, mask: Tensor, eps: float) -> Tensor:
    """Eq. (6): g' = (M + eps) * g / (eps + 1)."""
    return (mask + eps) * g / (eps + 1.0)

def structural_prior(x: Tensor, mask: Tensor, eps: float) -> Tensor:
    """Eq. (5)-(6) together: image and text mask (B, 1, H, W) in {0, 1} -> g'."""
    return refine_with_text_mask(laplacian_magnitude(x), mask, eps)

def to_latent_grid(prior: Tensor, stride: int = LATENT_STRIDE) -> Tensor:
    """g'_1: average g' over each stride x stride block (the latent grid of y)."""
    return F.avg_pool2d(prior, stride)

__all__ = [
    "LAPLACIAN_KERNEL",
    "LATENT_STRIDE",
    "laplacian_magnitude",
    "refine_with_text_mask",
    "structural_prior",
    "to_latent_grid",
]

