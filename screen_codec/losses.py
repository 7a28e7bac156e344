"""Rate-distortion loss, paper eq. (8)-(11).

    (8)  L = R + D  (+ a small prior-recovery term for w, see below)
    (9)  R = (sum -log2 p(y^) + sum -log2 p(z^)) / (number of pixels)            [bits per pixel]
    (10) Lambda_i = (M_i / 5 + 0.9) * lambda                                       [text weight]
    (11) D = mean_i( Lambda_i * (255 * (x_i - x^_i))^2 )

The 255^2 factor puts the MSE on the 8-bit scale, the convention under which the paper's lambda
set {0.0018 .. 0.025} was chosen (CompressAI's RateDistortionLoss). ``text_weighted=False`` gives
plain MSE (Lambda = lambda), the ablation without the weighted loss. The decoder-side structural
prior w is pulled towards g'_1 by an auxiliary MSE with weight ``prior_weight``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def text_weights(mask: Tensor) -> Tensor:
    """Eq. (10) without lambda: 1.1 on text pixels, 0.9 elsewhere."""
    return mask / 5.0 + 0.9


def psnr(mse: Tensor) -> Tensor:
    """PSNR in dB of an MSE measured on [0, 1] images."""
    return -10.0 * torch.log10(mse.clamp_min(1e-10))


class RateDistortionLoss(nn.Module):
    """Eq. (8)-(11) over a batch whose samples may have different lambdas (quality levels)."""

    def __init__(self, text_weighted: bool = True, prior_weight: float = 1.0) -> None:
        super().__init__()
        self.text_weighted = text_weighted
        self.prior_weight = prior_weight

    def forward(self, output: dict, x: Tensor, mask: Tensor, lmbda: Tensor) -> dict[str, Tensor]:
        """output: the model's forward dict; x, mask (B,.,H,W); lmbda (B,) per sample."""
        batch, _, height, width = x.shape
        pixels = batch * height * width
        bits = sum(-torch.log2(lik).sum() for lik in output["likelihoods"].values())
        bpp = bits / pixels

        squared_error = (x - output["x_hat"]).pow(2)
        weights = text_weights(mask) if self.text_weighted else torch.ones_like(mask)
        weighted = (weights * squared_error).mean(dim=(1, 2, 3))
        distortion = (lmbda * 255.0**2 * weighted).mean()

        loss = bpp + distortion
        result = {"bpp": bpp, "distortion": distortion}
        if "recovered_prior" in output:
            prior_mse = (output["recovered_prior"] - output["prior_latent"]).pow(2).mean()
            loss = loss + self.prior_weight * prior_mse
            result["prior_mse"] = prior_mse

        mse = squared_error.mean()
        text_pixels = mask.expand_as(squared_error).sum()
        text_mse = (squared_error * mask).sum() / text_pixels.clamp_min(1.0)
        result.update(
            loss=loss,
            mse=mse,
            psnr=psnr(mse.detach()),
            text_psnr=psnr(text_mse.detach()) if text_pixels > 0 else torch.tensor(math.nan),
        )
        return result
