"""Channel-wise autoregressive Gaussian entropy model with latent residual prediction (LRP).

Minnen & Singh, "Channel-wise autoregressive entropy models for learned image compression"
(ICIP 2020), as used by WACNN: y is split into S channel slices; slice k is modelled as a
Gaussian whose mean and scale come from the hyper-synthesis output and the already decoded
slices (at most ``max_support`` of them), and after quantisation an LRP network predicts the
residual of y^_k from the same context:

    mean_k  = f_mean_k([means,  y^_<k])          scale_k = f_scale_k([scales, y^_<k])
    y^_k    = round(y_k - mean_k) + mean_k
    y^_k   += 0.5 * tanh(f_lrp_k([means, y^_<k, y^_k]))

Quality-equivariant variant (``ModelConfig.equivariant_entropy``): y enters quantisation scaled by
the gain unit of quality q, y_q = g_q y (Cui et al. 2021), so y_q ~ N(g_q mu, g_q sigma) when
y ~ N(mu, sigma). The nets then model y itself and one set of statistics serves every quality:

    mean_k  = g_q,k f_mean_k([means,  y^_<k / g_q,<k])      scale_k = g_q,k f_scale_k([scales, y^_<k / g_q,<k])

(without it, slice 0's moments come from h_s(z^) alone, which cannot tell the qualities apart).

Each f is a five-layer 3x3 conv stack with GELU. This module is the PyTorch side of the
exactness boundary (``latent_coder.EntropyParameters``); ``forward`` is the training path:
straight-through rounding for the reconstruction and, for the rate, the residual y_k - mean_k
either with additive uniform noise (Balle et al. 2017, ``rate_quantisation = "noise"``) or rounded
with straight-through gradients (``"ste"``: the rate the coder pays, as in the hard fine-tuning
stage of Guo et al., "Soft then Hard", ICML 2021). Evaluation always rates the rounded residual.
"""

from __future__ import annotations

from typing import Callable, Sequence, TypeVar

import torch
from torch import Tensor, nn

from .._compressai import compressai_module
from ..layers import conv3x3

_entropy_models = compressai_module("entropy_models")
_ops = compressai_module("ops")

SCALE_TABLE_LEVELS = 64
SCALE_MIN, SCALE_MAX = 0.11, 256.0
RATE_QUANTISATIONS = ("noise", "ste")
Result = TypeVar("Result")


def scale_table() -> list[float]:
    """64 scales spaced exponentially from 0.11 to 256 (WACNN / Minnen 2018)."""
    return torch.exp(
        torch.linspace(
            torch.log(torch.tensor(SCALE_MIN)), torch.log(torch.tensor(SCALE_MAX)), SCALE_TABLE_LEVELS
        )
    ).tolist()


def _conv_stack(in_ch: int, hidden: Sequence[int], out_ch: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [conv3x3(in_ch, width), nn.GELU()]
        in_ch = width
    layers.append(conv3x3(in_ch, out_ch))
    return nn.Sequential(*layers)


def in_full_precision(entropy_model: Callable[..., Result], *inputs: Tensor) -> Result:
    """Run an entropy model in fp32 even under bf16 autocast: erfc and the difference of two CDF
    values near 0.5 lose the rate term's precision in bf16."""
    with torch.autocast(inputs[0].device.type, enabled=False):
        return entropy_model(*(t.float() for t in inputs))


class ChannelSliceEntropyModel(nn.Module):
    """S-slice channel-wise autoregressive Gaussian model with LRP (see module docstring)."""

    def __init__(
        self, latent_ch: int, num_slices: int, max_support: int, hidden: Sequence[int]
    ) -> None:
        super().__init__()
        if latent_ch % num_slices:
            raise ValueError("latent channels must divide evenly into slices")
        self.num_slices = num_slices
        self.max_support = max_support
        self.slice_ch = latent_ch // num_slices
        support_ch = [latent_ch + self.slice_ch * min(k, max_support) for k in range(num_slices)]
        self.mean_nets = nn.ModuleList(_conv_stack(c, hidden, self.slice_ch) for c in support_ch)
        self.scale_nets = nn.ModuleList(_conv_stack(c, hidden, self.slice_ch) for c in support_ch)
        self.lrp_nets = nn.ModuleList(
            _conv_stack(c + self.slice_ch, hidden, self.slice_ch) for c in support_ch
        )
        self.gaussian = _entropy_models.GaussianConditional(scale_table())
        self.rate_quantisation = "noise"  # the training rate's quantiser: one of RATE_QUANTISATIONS

    def _support(self, support: Sequence[Tensor]) -> list[Tensor]:
        return list(support[: self.max_support])

    def moments(
        self, k: int, means: Tensor, scales: Tensor, support: Sequence[Tensor], gain: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Mean and scale of slice k; with ``gain`` (B, M, 1, 1), the equivariant form above."""
        context = self._support(support)
        if gain is None:
            return (self.mean_nets[k](torch.cat([means, *context], dim=1)),
                    self.scale_nets[k](torch.cat([scales, *context], dim=1)))
        gains = gain.split(self.slice_ch, dim=1)
        context = [decoded / g for decoded, g in zip(context, gains)]
        return (gains[k] * self.mean_nets[k](torch.cat([means, *context], dim=1)),
                gains[k] * self.scale_nets[k](torch.cat([scales, *context], dim=1)))

    def refine(self, k: int, means: Tensor, support: Sequence[Tensor], y_hat: Tensor) -> Tensor:
        context = torch.cat([means, *self._support(support), y_hat], dim=1)
        return y_hat + 0.5 * torch.tanh(self.lrp_nets[k](context))

    def rate_likelihood(self, y_k: Tensor, mean: Tensor, scale: Tensor) -> Tensor:
        """P(y_k - mean) under N(0, scale) over a unit bin, the residual noisy or rounded (module
        docstring); bounded below as in CompressAI, whose ``GaussianConditional.forward`` would
        round a rounded residual again and so cut its straight-through gradient."""
        residual = y_k - mean
        if self.training and self.rate_quantisation == "noise":
            residual = self.gaussian.quantize(residual, "noise")
        else:
            residual = _ops.quantize_ste(residual)
        return self.gaussian.likelihood_lower_bound(self.gaussian._likelihood(residual, scale))

    def forward(
        self, y: Tensor, means: Tensor, scales: Tensor, gain: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Training/evaluation pass: (y^, likelihoods of y), both shaped like y; ``gain`` as in
        :meth:`moments`."""
        decoded: list[Tensor] = []
        likelihoods = []
        for k, y_k in enumerate(y.split(self.slice_ch, dim=1)):
            mean, scale = self.moments(k, means, scales, decoded, gain)
            likelihoods.append(in_full_precision(self.rate_likelihood, y_k, mean, scale))
            y_hat = _ops.quantize_ste(y_k - mean) + mean
            decoded.append(self.refine(k, means, decoded, y_hat))
        return torch.cat(decoded, dim=1), torch.cat(likelihoods, dim=1)
