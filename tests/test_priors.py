"""Eq. (5), (6) and (10) against values computed by hand on small arrays."""

import torch

from screen_codec.losses import RateDistortionLoss, text_weights
from screen_codec.priors import laplacian_magnitude, refine_with_text_mask, to_latent_grid


def _gray(values):
    """A (1, 3, H, W) image whose three channels equal `values` (so luma == values)."""
    t = torch.tensor(values, dtype=torch.float32)[None, None]
    return t.repeat(1, 3, 1, 1)


def test_eq5_laplacian_magnitude_by_hand():
    # A single bright pixel in the centre of a 3x3 black image (replicate-padded borders).
    x = _gray([[0, 0, 0], [0, 1, 0], [0, 0, 0]])
    g = laplacian_magnitude(x)[0, 0]
    # Centre: |-8 * 1| / 8 = 1. Each neighbour sees the bright pixel once: |1| / 8.
    # Corner (0,0) with replicate padding: its 3x3 window holds the centre pixel once -> 1/8.
    expected = torch.full((3, 3), 1 / 8)
    expected[1, 1] = 1.0
    torch.testing.assert_close(g, expected, rtol=0, atol=1e-6)


def test_eq5_flat_image_has_no_gradient():
    assert laplacian_magnitude(_gray([[0.3] * 4] * 4)).abs().max() < 1e-6


def test_eq6_text_refinement_by_hand():
    g = torch.tensor([[[[0.8, 0.8], [0.2, 0.0]]]])
    mask = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])
    eps = 0.25
    # g' = (M + eps) * g / (eps + 1): text keeps g, non-text is scaled by eps / (1 + eps) = 0.2.
    expected = torch.tensor([[[[0.8, 0.16], [0.2, 0.0]]]])
    torch.testing.assert_close(refine_with_text_mask(g, mask, eps), expected)


def test_latent_grid_is_block_average():
    prior = torch.zeros(1, 1, 32, 32)
    prior[..., :16, :16] = 1.0
    prior[..., 16:, 16:] = 0.5
    torch.testing.assert_close(
        to_latent_grid(prior), torch.tensor([[[[1.0, 0.0], [0.0, 0.5]]]])
    )


def test_eq10_text_weights_by_hand():
    mask = torch.tensor([0.0, 1.0])
    torch.testing.assert_close(text_weights(mask), torch.tensor([0.9, 1.1]))


def test_eq11_weighted_distortion_by_hand():
    # Two pixels (1x1x1x2 image), one on text, one off; error 1/255 and 2/255 on the 8-bit scale.
    x = torch.zeros(1, 3, 1, 2)
    x_hat = torch.zeros(1, 3, 1, 2)
    x_hat[..., 0, 0] = 1 / 255
    x_hat[..., 0, 1] = 2 / 255
    mask = torch.tensor([[[[1.0, 0.0]]]])
    lmbda = torch.tensor([0.01])
    ones = torch.ones(1, 1, 1, 1)
    output = {"x_hat": x_hat, "likelihoods": {"y": ones, "z": ones}}
    result = RateDistortionLoss(text_weighted=True)(output, x, mask, lmbda)
    # mean over pixels and channels of Lambda * err^2 = 0.01 * (1.1 * 1 + 0.9 * 4) / 2
    torch.testing.assert_close(result["distortion"], torch.tensor(0.01 * (1.1 + 3.6) / 2))
    plain = RateDistortionLoss(text_weighted=False)(output, x, mask, lmbda)
    torch.testing.assert_close(plain["distortion"], torch.tensor(0.01 * (1 + 4) / 2))
    assert result["bpp"] == 0  # likelihoods of one cost no bits
