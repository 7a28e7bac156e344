"""screen_codec.metrics.psnr: the one PSNR that exports, tests and benchmarks report."""

from __future__ import annotations

import math

import numpy as np
import pytest

from screen_codec.metrics import psnr


def test_psnr_of_a_known_error() -> None:
    reference = np.zeros((4, 4, 3), np.uint8)
    decoded = reference.copy()
    decoded[0, 0, 0] = 16  # MSE = 256 / 48
    assert psnr(reference, decoded) == pytest.approx(10 * math.log10(255.0**2 * 48 / 256))


def test_mask_restricts_the_error_to_its_pixels() -> None:
    reference = np.zeros((4, 4, 3), np.uint8)
    decoded = reference.copy()
    decoded[0, 0] = 10  # every channel of pixel (0, 0) off by 10
    decoded[3, 3] = 200
    mask = np.zeros((4, 4), np.uint8)
    mask[0, :2] = 1  # pixels (0, 0) and (0, 1): MSE = 3 * 100 / 6
    assert psnr(reference, decoded, mask) == pytest.approx(10 * math.log10(255.0**2 / 50))
    assert psnr(reference, decoded, mask) > psnr(reference, decoded)


def test_ceiling_caps_exact_and_near_exact_matches() -> None:
    reference = np.full((100, 100, 3), 7, np.uint8)
    nearly = reference.copy()
    nearly[0, 0, 0] = 8  # MSE 1/30000: 95.9 dB
    assert psnr(reference, reference) == math.inf
    assert psnr(reference, reference, ceiling_db=100.0) == 100.0
    assert psnr(reference, nearly, ceiling_db=90.0) == 90.0
    assert psnr(reference, nearly, ceiling_db=100.0) == pytest.approx(10 * math.log10(255.0**2 * 30000))
