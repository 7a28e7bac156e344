"""bench.bd_rate against cases with closed-form answers (PCHIP is exact on linear data)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.bd_rate import NoOverlapError, bd_psnr, bd_rate, psnr_at_rate, rate_at_psnr

RATES = [0.1, 0.2, 0.4, 0.8, 1.6]
PSNRS = [28.0, 31.5, 34.2, 37.9, 40.3]  # concave, like a real codec


def test_identical_curves_give_zero():
    assert bd_rate(RATES, PSNRS, RATES, PSNRS) == pytest.approx(0.0, abs=1e-12)
    assert bd_psnr(RATES, PSNRS, RATES, PSNRS) == pytest.approx(0.0, abs=1e-12)


def test_every_rate_times_0_9_is_minus_10_percent():
    # ln(0.9 R) - ln R = ln 0.9 at every PSNR, so BD-rate = exp(ln 0.9) - 1 = -10 % exactly.
    scaled = [0.9 * r for r in RATES]
    assert bd_rate(RATES, PSNRS, scaled, PSNRS) == pytest.approx(-10.0, abs=1e-9)
    # and the reverse direction: 1/0.9 - 1
    assert bd_rate(scaled, PSNRS, RATES, PSNRS) == pytest.approx((1 / 0.9 - 1) * 100, abs=1e-9)


def test_psnr_shift_with_linear_log_rate_matches_closed_form():
    # Anchor: ln R = a + b D.  Test: the same rates reach D + d, so ln R_B(D) = a + b (D - d)
    # and the mean log-rate difference is -b d on the whole overlap: BD-rate = exp(-b d) - 1.
    # Over ln R both are lines of slope 1/b offset by d: BD-PSNR = d.
    a, b, d = -9.0, 0.23, 1.7
    psnr = np.linspace(30.0, 42.0, 6)
    rates = np.exp(a + b * psnr)
    expected = math.expm1(-b * d) * 100
    assert bd_rate(rates, psnr, rates, psnr + d) == pytest.approx(expected, abs=1e-9)
    assert bd_psnr(rates, psnr, rates, psnr + d) == pytest.approx(d, abs=1e-9)


def test_order_of_points_does_not_matter():
    shuffled = [3, 0, 4, 1, 2]
    r = [RATES[i] * 0.8 for i in shuffled]
    p = [PSNRS[i] + 0.3 for i in shuffled]
    sorted_r = [x * 0.8 for x in RATES]
    sorted_p = [x + 0.3 for x in PSNRS]
    assert bd_rate(RATES, PSNRS, r, p) == pytest.approx(bd_rate(RATES, PSNRS, sorted_r, sorted_p))


def test_better_codec_is_negative():
    assert bd_rate(RATES, PSNRS, RATES, [p + 1.0 for p in PSNRS]) < 0
    assert bd_psnr(RATES, PSNRS, RATES, [p + 1.0 for p in PSNRS]) > 0


def test_non_overlapping_curves_raise_a_clear_error():
    low = [20.0, 22.0, 24.0, 26.0]
    high = [30.0, 32.0, 34.0, 36.0]
    with pytest.raises(NoOverlapError, match="do not overlap in PSNR"):
        bd_rate(RATES[:4], low, RATES[:4], high)
    with pytest.raises(NoOverlapError, match="do not overlap in log-rate"):
        bd_psnr([0.1, 0.2, 0.3, 0.4], low, [1.0, 2.0, 3.0, 4.0], high)


def test_bad_curves_are_rejected():
    with pytest.raises(ValueError, match="distinct"):
        bd_rate(RATES, PSNRS, RATES, [30.0, 30.0, 31.0, 32.0, 33.0])
    with pytest.raises(ValueError, match="positive"):
        bd_rate(RATES, PSNRS, [0.0] + RATES[1:], PSNRS)
    with pytest.raises(ValueError, match=">= 2 points"):
        bd_rate(RATES, PSNRS, [0.5], [33.0])


@pytest.mark.parametrize(
    "read, xs, ys, node, between, outside",
    [(psnr_at_rate, RATES, PSNRS, 2, 0.3, (0.05, 2.0)), (rate_at_psnr, PSNRS, RATES, 2, 33.0, (27.9, 40.4))],
    ids=["psnr_at_rate", "rate_at_psnr"],
)
def test_reading_a_curve_interpolates_inside_and_refuses_outside(read, xs, ys, node, between, outside):
    """Both readings of a curve hit its points, fall between neighbours and never extrapolate."""
    assert read(RATES, PSNRS, xs[node]) == pytest.approx(ys[node])
    inside = read(RATES, PSNRS, between)
    assert inside is not None and ys[node - 1] < inside < ys[node]
    assert all(read(RATES, PSNRS, x) is None for x in outside)
