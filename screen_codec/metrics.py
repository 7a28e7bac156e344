"""Image quality on 8-bit images (torch-free): what exports, tests and the runtime tools report."""

from __future__ import annotations

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR-RGB in dB of two uint8 images: 10 log10(255^2 / MSE), MSE over all samples."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))
