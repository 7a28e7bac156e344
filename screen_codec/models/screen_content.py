"""The screen-content codec: WACNN backbone + external prior guidance + structural enhancement.

Paper: Zhou et al., "Enhanced Screen Content Image Compression: A Synergistic Approach for
Structural Fidelity and Text Integrity Preservation", ACM MM 2024. Backbone: WACNN (Zou et al.,
CVPR 2022). Variable rate: per-quality gain units on y and z (Cui et al., CVPR 2021), so one set
of weights serves all quality levels. Equation numbers refer to docs/MODEL.md.

    x, M ──EPG (5)(6)──► g', g'_1
    x, g' ──g_a (1)──► y ──× gain_q──► y_q ──h_a (2) with g'_1──► z ──× hgain_q──► z_q ──Q──► z^_q
    z^ = z^_q × ihgain_q ──h_s──► (means, scales) ──slices + LRP──► y^_q (entropy/slices.py;
         with ``config.equivariant_entropy`` the slice moments scale with gain_q)
    y^ = y^_q × igain_q;  w = h_w(z^);  x^ = g_s(y^, w) (3)

With ``config.sem`` off the prior branches are absent and this is plain WACNN (the baseline).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .._compressai import compressai_module
from ..entropy.slices import ChannelSliceEntropyModel, in_full_precision
from ..layers import (
    NESFT,
    FeatureExtraction,
    WindowAttentionBlock,
    conv,
    conv3x3,
    deconv,
    subpel_conv3x3,
)
from ..priors import structural_prior, to_latent_grid
from .config import ModelConfig

_layers = compressai_module("layers")
_entropy_models = compressai_module("entropy_models")


def _hyper_widths(config: ModelConfig) -> list[int]:
    """Channel widths of h_a from M down to Z in four equal steps (320..192 for WACNN)."""
    step = (config.M - config.Z) // 4
    return [config.M - i * step for i in range(4)] + [config.Z]


class Analysis(nn.Module):
    """g_a, eq. (1): conv/GDN x3, conv, window attention at 1/4 and 1/16; NESFT after each
    stage when the prior branch g_a,p (FEM over [x, g']) is on.

    ``x ─conv─GDN─(sft)─conv─GDN─(sft)─WAB─conv─GDN─(sft)─conv─(sft)─WAB─► y``
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        n, m, k = config.N, config.M, config.kernel
        gdn = _layers.GDN
        self.stages = nn.ModuleList(
            [
                nn.Sequential(conv(3, n, k), gdn(n)),
                nn.Sequential(conv(n, n, k), gdn(n)),
                nn.Sequential(conv(n, n, k), gdn(n)),
                conv(n, m, k),
            ]
        )
        units = config.residual_units
        self.attention = nn.ModuleDict(
            {
                "1": WindowAttentionBlock(n, 8, 4, config.heads, units),
                "3": WindowAttentionBlock(m, 4, 2, config.heads, units),
            }
        )
        self.sem = config.sem
        if self.sem:
            self.prior_features = FeatureExtraction(4, config.prior_ch, (0.5, 0.5, 0.5, 0.5))
            self.modulations = nn.ModuleList(
                [NESFT(config.prior_ch, c) for c in (n, n, n, m)]
            )

    def forward(self, x: Tensor, prior: Tensor | None) -> Tensor:
        phis = self.prior_features(torch.cat([x, prior], dim=1)) if self.sem else None
        h = x
        for i, stage in enumerate(self.stages):
            h = stage(h)
            if phis is not None:
                h = self.modulations[i](h, phis[i])
            if str(i) in self.attention:
                h = self.attention[str(i)](h)
        return h


class HyperAnalysis(nn.Module):
    """h_a, eq. (2): five 3x3 convs with GELU (two of stride 2); with the prior branch on,
    FEM over g'_1 modulates the features at 1/16 and 1/32 (Phi2).

    ``y ─conv─GELU─conv─(sft)─GELU─conv/2─(sft)─GELU─conv─GELU─conv/2─► z``
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c = _hyper_widths(config)
        self.convs = nn.ModuleList(
            [
                conv3x3(c[0], c[0]),
                conv3x3(c[0], c[1]),
                conv3x3(c[1], c[2], stride=2),
                conv3x3(c[2], c[3]),
                conv3x3(c[3], c[4], stride=2),
            ]
        )
        self.activation = nn.GELU()
        self.sem = config.sem
        if self.sem:
            self.prior_features = FeatureExtraction(1, config.prior_ch, (1, 0.5))
            self.modulations = nn.ModuleDict(
                {"1": NESFT(config.prior_ch, c[1]), "2": NESFT(config.prior_ch, c[2])}
            )

    def forward(self, y: Tensor, prior_latent: Tensor | None) -> Tensor:
        phis = self.prior_features(prior_latent) if self.sem else None
        h = y
        for i, layer in enumerate(self.convs):
            h = layer(h)
            if phis is not None and str(i) in self.modulations:
                h = self.modulations[str(i)](h, phis[i - 1])
            if i < len(self.convs) - 1:
                h = self.activation(h)
        return h


def _hyper_synthesis_branch(config: ModelConfig) -> nn.Sequential:
    c = _hyper_widths(config)
    return nn.Sequential(
        conv3x3(c[4], c[4]),
        nn.GELU(),
        subpel_conv3x3(c[4], c[3]),
        nn.GELU(),
        conv3x3(c[3], c[2]),
        nn.GELU(),
        subpel_conv3x3(c[2], c[1]),
        nn.GELU(),
        conv3x3(c[1], c[0]),
    )


class HyperSynthesis(nn.Module):
    """h_s: two sub-pixel branches z^ -> latent means and latent scales (WACNN)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.means = _hyper_synthesis_branch(config)
        self.scales = _hyper_synthesis_branch(config)

    def forward(self, z_hat: Tensor) -> tuple[Tensor, Tensor]:
        return self.means(z_hat), self.scales(z_hat)


class Synthesis(nn.Module):
    """g_s, eq. (3): WAB, deconv/IGDN x3 (WAB at 1/4), deconv; with the prior branch on,
    w = h_w(z^) recovers a structural prior on the latent grid and FEM over [y^, w] (g_s,p)
    modulates each stage (Phi3).

    ``y^ ─WAB─(sft)─deconv─IGDN─(sft)─deconv─IGDN─(sft)─WAB─deconv─IGDN─(sft)─deconv─► x^``
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        n, m, k = config.N, config.M, config.kernel
        igdn = _layers.GDN
        units = config.residual_units
        self.low_attention = WindowAttentionBlock(m, 4, 2, config.heads, units)
        self.stages = nn.ModuleList(
            [
                nn.Sequential(deconv(m, n, k), igdn(n, inverse=True)),
                nn.Sequential(deconv(n, n, k), igdn(n, inverse=True)),
                nn.Sequential(deconv(n, n, k), igdn(n, inverse=True)),
            ]
        )
        self.high_attention = WindowAttentionBlock(n, 8, 4, config.heads, units)
        self.to_image = deconv(n, 3, k)
        self.sem = config.sem
        if self.sem:
            p = config.prior_ch
            self.prior_recovery = nn.Sequential(
                conv3x3(config.Z, p),
                nn.GELU(),
                subpel_conv3x3(p, p),
                nn.GELU(),
                subpel_conv3x3(p, 1),
                nn.Sigmoid(),
            )
            self.prior_features = FeatureExtraction(m + 1, p, (1, 2, 2, 2))
            self.modulations = nn.ModuleList([NESFT(p, c) for c in (m, n, n, n)])

    def recover_prior(self, z_hat: Tensor) -> Tensor:
        """w: the approximate structural prior (an estimate of g'_1) from the hyperprior."""
        return self.prior_recovery(z_hat)

    def forward(self, y_hat: Tensor, z_hat: Tensor) -> Tensor:
        h = self.low_attention(y_hat)
        phis = None
        if self.sem:
            phis = self.prior_features(torch.cat([y_hat, self.recover_prior(z_hat)], dim=1))
            h = self.modulations[0](h, phis[0])
        for i, stage in enumerate(self.stages):
            h = stage(h)
            if phis is not None:
                h = self.modulations[i + 1](h, phis[i + 1])
            if i == 1:
                h = self.high_attention(h)
        return self.to_image(h)


class QualityGains(nn.Module):
    """Gain units (Cui et al. 2021): per-quality channel gains on y and z and their inverses.

    Initialised so quality q scales the latents by sqrt(lambda_q / lambda_mid): a larger lambda
    means finer effective quantisation from the first step of training.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        mid = config.lambdas[len(config.lambdas) // 2]
        init = torch.tensor([0.5 * math.log(lmbda / mid) for lmbda in config.lambdas])
        self.log_gain = nn.Parameter(init[:, None].repeat(1, config.M))
        self.log_inverse_gain = nn.Parameter(-init[:, None].repeat(1, config.M))
        self.log_hyper_gain = nn.Parameter(init[:, None].repeat(1, config.Z))
        self.log_hyper_inverse_gain = nn.Parameter(-init[:, None].repeat(1, config.Z))

    @staticmethod
    def _select(table: Tensor, quality: Tensor) -> Tensor:
        return torch.exp(table[quality - 1])[:, :, None, None]

    def gain(self, quality: Tensor) -> Tensor:
        return self._select(self.log_gain, quality)

    def inverse_gain(self, quality: Tensor) -> Tensor:
        return self._select(self.log_inverse_gain, quality)

    def hyper_gain(self, quality: Tensor) -> Tensor:
        return self._select(self.log_hyper_gain, quality)

    def hyper_inverse_gain(self, quality: Tensor) -> Tensor:
        return self._select(self.log_hyper_inverse_gain, quality)


class ScreenContentCodec(nn.Module):
    """The full model (see module docstring). ``forward`` is the training/evaluation pass; the
    bit-level codec is ``screen_codec.codec`` over ``TorchNetworks`` (models/torch_networks.py).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.analysis = Analysis(config)
        self.hyper_analysis = HyperAnalysis(config)
        self.hyper_synthesis = HyperSynthesis(config)
        self.synthesis = Synthesis(config)
        self.gains = QualityGains(config)
        self.slices = ChannelSliceEntropyModel(
            config.M, config.num_slices, config.max_support, config.slice_hidden
        )
        self.z_bottleneck = _entropy_models.EntropyBottleneck(config.Z)

    def priors(self, x: Tensor, mask: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """g' and g'_1 (eq. 5-6), or (None, None) for the baseline without EPG."""
        if not self.config.sem:
            return None, None
        prior = structural_prior(x, mask, self.config.prior_eps)
        return prior, to_latent_grid(prior)

    def analyse(self, x: Tensor, mask: Tensor, quality: Tensor) -> tuple[Tensor, Tensor]:
        """Encoder networks: image and text mask -> gain-scaled (y_q, z_q), eq. (1)-(2), (5)-(6)."""
        prior, prior_latent = self.priors(x, mask)
        y_q = self.analysis(x, prior) * self.gains.gain(quality)
        z_q = self.hyper_analysis(y_q, prior_latent) * self.gains.hyper_gain(quality)
        return y_q, z_q

    def hyper(self, z_hat_q: Tensor, quality: Tensor) -> tuple[Tensor, Tensor]:
        """Entropy-parameter side of the hyperprior: z^_q -> latent (means, scales)."""
        return self.hyper_synthesis(z_hat_q * self.gains.hyper_inverse_gain(quality))

    def entropy_gain(self, quality: Tensor) -> Tensor | None:
        """The gain the slice moments follow (``equivariant_entropy``), else None."""
        return self.gains.gain(quality) if self.config.equivariant_entropy else None

    def synthesise(self, y_hat_q: Tensor, z_hat_q: Tensor, quality: Tensor) -> Tensor:
        """Decoder network, eq. (3): gain-scaled latents -> reconstruction."""
        y_hat = y_hat_q * self.gains.inverse_gain(quality)
        z_hat = z_hat_q * self.gains.hyper_inverse_gain(quality)
        return self.synthesis(y_hat, z_hat)

    def forward(self, x: Tensor, mask: Tensor, quality: Tensor) -> dict[str, Tensor | dict]:
        """Training pass. x (B,3,H,W) in [0,1], mask (B,1,H,W), quality (B,) in 1..Q."""
        y_q, z_q = self.analyse(x, mask, quality)
        z_hat_q, z_likelihoods = in_full_precision(self.z_bottleneck, z_q)
        means, scales = self.hyper(z_hat_q, quality)
        y_hat_q, y_likelihoods = self.slices(y_q, means, scales, self.entropy_gain(quality))
        out: dict[str, Tensor | dict] = {
            "x_hat": self.synthesise(y_hat_q, z_hat_q, quality),
            "likelihoods": {"y": y_likelihoods, "z": z_likelihoods},
        }
        if self.config.sem:
            z_hat = z_hat_q * self.gains.hyper_inverse_gain(quality)
            out["recovered_prior"] = self.synthesis.recover_prior(z_hat)
            out["prior_latent"] = self.priors(x, mask)[1]
        return out

    def update_entropy_tables(self) -> None:
        """Recompute the quantised CDFs after training (before coding or export)."""
        self.z_bottleneck.update(force=True)
        self.slices.gaussian.update_scale_table(self.slices.gaussian.scale_table, force=True)

    def auxiliary_loss(self) -> Tensor:
        """EntropyBottleneck quantile loss (trained alongside, as in CompressAI)."""
        return self.z_bottleneck.loss()
