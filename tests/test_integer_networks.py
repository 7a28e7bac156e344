"""screen_codec.entropy.integer_networks: the exact fixed-point entropy-parameter path.

The property that matters is that the result is a function of the integers alone: the float64 BLAS
product must equal exact int64 arithmetic, whatever the thread count, and the tables must not
depend on a math library.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import threadpoolctl
import torch

from screen_codec.entropy import integer_networks as I
from screen_codec.models import build_model
from screen_codec.models.torch_networks import TorchNetworks, integer_entropy_parameters


def _int64_conv(conv: I.IntegerConv3x3, a: np.ndarray) -> np.ndarray:
    """The same convolution in exact int64 arithmetic, tap by tap (a different summation order)."""
    weight, bias, exponent = (x.astype(np.int64) for x in conv.integers())
    channels, height, width = a.shape
    padded = np.zeros((channels, height + 2, width + 2), np.int64)
    padded[:, 1:-1, 1:-1] = a.astype(np.int64)
    acc = np.zeros((len(bias), height, width), np.int64) + bias[:, None, None]
    for ky in range(3):
        for kx in range(3):
            acc += np.einsum("oc,chw->ohw", weight[:, :, ky, kx], padded[:, ky : ky + height, kx : kx + width])
    # floor(acc / 2^e + 1/2) in integers: (acc + 2^(e-1)) >> e
    shift = exponent[:, None, None]
    rounded = (acc + (np.int64(1) << (shift - 1))) >> shift
    return np.clip(rounded, -(1 << 24), 1 << 24).astype(np.float64)


def _random_conv(rng: np.random.Generator, out_ch: int, in_ch: int) -> I.IntegerConv3x3:
    return I.IntegerConv3x3.quantize(rng.normal(size=(out_ch, in_ch, 3, 3)) * 0.05, rng.normal(size=out_ch))


def test_blas_convolution_equals_exact_integer_arithmetic():
    rng = np.random.default_rng(0)
    conv = _random_conv(rng, 24, 96)
    a = I.to_fixed(rng.normal(size=(96, 13, 21)) * 40)  # large activations: products near 2^38
    expected = _int64_conv(conv, a)
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        one_thread = conv(a)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        two_threads = conv(a)
    np.testing.assert_array_equal(one_thread, expected)
    np.testing.assert_array_equal(two_threads, expected)


def test_convolution_approximates_the_float_one():
    rng = np.random.default_rng(1)
    weight, bias = rng.normal(size=(16, 32, 3, 3)) * 0.1, rng.normal(size=16)
    x = rng.normal(size=(32, 9, 11))
    a = I.to_fixed(x)
    reference = torch.nn.functional.conv2d(
        torch.from_numpy(a / I.ONE)[None], torch.from_numpy(weight), torch.from_numpy(bias), padding=1
    )[0].numpy()
    out = I.IntegerConv3x3.quantize(weight, bias)(a) / I.ONE
    assert np.abs(out - reference).max() < 2e-3  # weight rounding (2^-14 relative) + output rounding


def test_stored_integers_round_trip():
    conv = _random_conv(np.random.default_rng(2), 8, 5)
    weight, bias, exponent = conv.integers()
    assert weight.dtype == np.int16 and bias.dtype == np.int64 and exponent.dtype == np.int8
    a = I.to_fixed(np.random.default_rng(3).normal(size=(5, 6, 7)))
    np.testing.assert_array_equal(I.IntegerConv3x3.from_integers(weight, bias, exponent)(a), conv(a))


def test_a_convolution_that_could_leave_exact_float64_integers_is_refused():
    in_ch = 3700  # 9 * 3700 * 2^14 * 2^24 > 2^53
    with pytest.raises(ValueError, match="overflow"):
        I.IntegerConv3x3.from_integers(np.ones((1, in_ch, 3, 3)), np.zeros(1), np.zeros(1))


def test_tables_follow_gelu_and_tanh_without_a_math_library():
    a = np.arange(-7 * 4096, 7 * 4096, 37, dtype=np.float64)
    gelu = np.array([v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in a / I.ONE])
    assert np.abs(I.gelu(a) / I.ONE - gelu).max() <= 0.5 / I.ONE + 1e-9
    half_tanh = 0.5 * np.tanh(a / I.ONE)
    assert np.abs(I.half_tanh(a) / I.ONE - half_tanh).max() <= 0.5 / I.ONE + 1e-9
    np.testing.assert_array_equal(I._gelu_table(), I.GELU_TABLE)  # rebuilt: the same integers


def test_pixel_shuffle_matches_torch():
    a = np.arange(2 * 4 * 3 * 5, dtype=np.float64).reshape(8, 3, 5)
    expected = torch.nn.PixelShuffle(2)(torch.from_numpy(a)[None])[0].numpy()
    np.testing.assert_array_equal(I.pixel_shuffle(a, 2), expected)


@pytest.mark.parametrize("equivariant", [False, True])
def test_entropy_parameters_track_the_float_model_and_survive_serialisation(equivariant):
    torch.manual_seed(0)
    model = build_model("compact", N=32, M=80, Z=48, prior_ch=16, slice_hidden=(32, 32, 16, 16),
                        equivariant_entropy=equivariant).eval()
    with torch.no_grad():  # gains away from their initial values, as after training
        model.gains.log_gain.add_(0.3 * torch.randn_like(model.gains.log_gain))
    params = integer_entropy_parameters(model)
    z_hat = np.rint(np.random.default_rng(4).normal(size=(1, 48, 2, 3)) * 3).astype(np.float32)
    means, scales = params.hyper(z_hat, 2)
    with torch.no_grad():
        float_means, float_scales = model.hyper(torch.from_numpy(z_hat), torch.tensor([2]))
    assert np.abs(means - float_means.numpy()).max() < 1e-3
    assert np.abs(scales - float_scales.numpy()).max() < 1e-3
    loaded = I.IntegerEntropyParameters.from_arrays(params.to_arrays())
    support = [np.rint(means[:, :16] * 4) / 4]
    for quality in (1, 5):
        moments = params.slice_moments(1, means, scales, support, quality)
        for a, b in zip(moments, loaded.slice_moments(1, means, scales, support, quality)):
            np.testing.assert_array_equal(a, b)
        with torch.no_grad():
            expected = model.slices.moments(
                1, *(torch.from_numpy(t) for t in (means, scales)), [torch.from_numpy(support[0])],
                model.entropy_gain(torch.tensor([quality])),
            )
        for exact, reference in zip(moments, expected):
            assert np.abs(exact - reference.numpy()).max() < 2e-3 * max(1.0, np.abs(exact).max())
    np.testing.assert_array_equal(
        params.refine(1, means, support, support[0]), loaded.refine(1, means, support, support[0])
    )
    assert TorchNetworks(model).entropy.to_arrays().keys() == params.to_arrays().keys()


def test_equivariant_moments_scale_with_the_gain_of_each_quality():
    """y_q = g_q y, so the moments of y_q are g_q times those of y: the same statistics at every
    quality (entropy/slices.py)."""
    torch.manual_seed(1)
    model = build_model("compact", N=32, M=80, Z=48, prior_ch=16, slice_hidden=(32, 32, 16, 16),
                        equivariant_entropy=True).eval()
    with torch.no_grad():
        model.gains.log_gain.add_(0.3 * torch.randn_like(model.gains.log_gain))
    params = integer_entropy_parameters(model)
    z_hat = np.rint(np.random.default_rng(5).normal(size=(1, 48, 2, 3)) * 3).astype(np.float32)
    means, scales = params.hyper(z_hat, 3)
    y = np.random.default_rng(6).normal(size=(1, 16, 8, 12)).astype(np.float32)  # slice 0 of y
    coded, normalised = [], []
    for quality in (1, 3, 5):
        gain = params.gain[quality - 1].reshape(1, -1, 1, 1)
        mu, sigma = params.slice_moments(1, means, scales, [(y * gain[:, :16]).astype(np.float32)], quality)
        coded.append(sigma)
        normalised.append((mu / gain[:, 16:32], sigma / gain[:, 16:32]))
    assert not np.allclose(coded[2], coded[0], rtol=0.1)  # the qualities' scales differ ...
    for mu, sigma in normalised[1:]:  # ... by their gains alone
        np.testing.assert_allclose(mu, normalised[0][0], atol=2e-3)
        np.testing.assert_allclose(sigma, normalised[0][1], atol=2e-3)
