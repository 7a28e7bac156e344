"""Structural enhancement module (SEM): feature extraction (FEM) + NESFT modulation.

Paper: Zhou et al., "Enhanced Screen Content Image Compression: A Synergistic Approach for
Structural Fidelity and Text Integrity Preservation", ACM MM 2024. The SEM injects a structural
prior into three places of the backbone (equation numbers as in docs/MODEL.md):

    (1) y  = g_a(x, Phi1),   Phi1 = g_a,p(x, g')      encoder, prior = text-refined gradient g'
    (2) z  = h_a(y, Phi2),   Phi2 = h_a,p(g'_1)       hyper-encoder, g' on the latent grid
    (3) x^ = g_s(y^, Phi3),  Phi3 = g_s,p(y^, w)      decoder, w recovered from the hyperprior
    (4) FEM: Phi = [phi_1 .. phi_D], phi_d = 1x1(act(3x3/s(phi_{d-1})))   multi-depth features
    (7) NESFT: (gamma, beta) = (1 + f_gamma(phi), f_beta(phi)),  F' = gamma * F + beta

``FeatureExtraction`` is the FEM; ``NESFT`` is the non-linearity-enhanced spatial feature
transform that turns one depth of FEM features into a per-pixel affine modulation of backbone
features F. gamma is parameterised as 1 + f_gamma so that a freshly initialised SEM starts as the
identity and the backbone (e.g. pre-trained WACNN weights) is undisturbed.
"""

from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

from .basic import conv1x1, conv3x3, deconv


def _act() -> nn.Module:
    return nn.LeakyReLU(0.1, inplace=True)


class FeatureExtraction(nn.Module):
    """FEM, eq. (4): a pyramid of (3x3 resampling conv -> act -> 1x1 -> act) stages.

    ``prior (C_in, H, W) -> phi_1 -> phi_2 -> ...``, one output per stage; each stage's
    ``scale`` is 0.5 (strided conv), 1 (same size) or 2 (transposed conv).
    """

    def __init__(self, in_ch: int, width: int, scales: Sequence[float]) -> None:
        super().__init__()
        stages = []
        for scale in scales:
            if scale == 0.5:
                spatial: nn.Module = conv3x3(in_ch, width, stride=2)
            elif scale == 1:
                spatial = conv3x3(in_ch, width)
            elif scale == 2:
                spatial = deconv(in_ch, width, kernel_size=3)
            else:
                raise ValueError(f"FEM stage scale must be 0.5, 1 or 2, not {scale}")
            stages.append(nn.Sequential(spatial, _act(), conv1x1(width, width), _act()))
            in_ch = width
        self.stages = nn.ModuleList(stages)

    def forward(self, prior: Tensor) -> list[Tensor]:
        features = []
        for stage in self.stages:
            prior = stage(prior)
            features.append(prior)
        return features


class NESFT(nn.Module):
    """Eq. (7): F' = gamma * F + beta with (gamma, beta) predicted from prior features phi.

    ``phi ──3x3──act──1x1──► gamma - 1``;  ``phi ──3x3──act──1x1──► beta``
    """

    def __init__(self, prior_ch: int, feature_ch: int) -> None:
        super().__init__()
        self.gamma = nn.Sequential(conv3x3(prior_ch, prior_ch), _act(), conv1x1(prior_ch, feature_ch))
        self.beta = nn.Sequential(conv3x3(prior_ch, prior_ch), _act(), conv1x1(prior_ch, feature_ch))
        for branch in (self.gamma, self.beta):
            nn.init.zeros_(branch[-1].weight)
            nn.init.zeros_(branch[-1].bias)

    def forward(self, features: Tensor, phi: Tensor) -> Tensor:
        return features * (1.0 + self.gamma(phi)) + self.beta(phi)
