"""Image quality on 8-bit images (torch-free): what exports, tests, the runtime tools and the
benchmarks report."""

from __future__ import annotations

import math

import numpy as np


def psnr(
    reference: np.ndarray, decoded: np.ndarray, mask: np.ndarray | None = None, ceiling_db: float = math.inf
) -> float:
    """PSNR in dB of two uint8 images: 10 log10(255^2 / MSE), peak 255.

    The MSE is taken over all samples, or over the pixels where ``mask`` (H x W) is nonzero (text
    PSNR). A reconstruction closer than ``ceiling_db`` scores ``ceiling_db``: the benchmarks cap
    exact matches at a finite value so that curves stay averageable.
    """
    diff = reference.astype(np.float64) - decoded.astype(np.float64)
    if mask is not None:
        diff = diff[mask.astype(bool)]
    mse = float(np.mean(diff**2))
    return ceiling_db if mse == 0 else min(ceiling_db, 10.0 * math.log10(255.0**2 / mse))
