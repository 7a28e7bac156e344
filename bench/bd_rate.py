"""Bjøntegaard delta rate and delta PSNR between two rate-distortion curves.

A curve is a set of (R_i, D_i) points: R the rate (bits per pixel, > 0), D the quality (PSNR, dB).
Write r = ln R. Each curve is interpolated with a piecewise cubic Hermite interpolant (PCHIP,
Fritsch-Carlson monotone slopes), the interpolation of the current common test conditions
(VCEG-AL22 / JVET-K1010) in place of the cubic polynomial fit of the original VCEG-M33:

    BD-rate:  r_A(D), r_B(D) interpolated over D;  [D_lo, D_hi] = the overlap of the two D ranges

        BD-rate = exp( 1/(D_hi - D_lo) * ∫_{D_lo}^{D_hi} ( r_B(D) - r_A(D) ) dD ) - 1     (x 100 %)

    BD-PSNR:  D_A(r), D_B(r) interpolated over r;  [r_lo, r_hi] = the overlap of the two r ranges

        BD-PSNR = 1/(r_hi - r_lo) * ∫_{r_lo}^{r_hi} ( D_B(r) - D_A(r) ) dr                  (dB)

A is the anchor, B the test: BD-rate < 0 means B needs fewer bits than A for the same PSNR, on
average over the PSNR range both curves reach; BD-PSNR > 0 means B is better at equal rate.
The base of the logarithm cancels in the BD-rate (exp undoes ln), so ln is used throughout.
PCHIP reproduces linear data exactly, so a curve whose log-rate is linear in PSNR gives the
closed-form values (see tests/test_bd_rate.py). Curves need at least two points and strictly
distinct abscissae; the classical BD computation uses four, more points only refine the fit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.interpolate import PchipInterpolator


class NoOverlapError(ValueError):
    """The two curves share no quality range (BD-rate) or no rate range (BD-PSNR)."""


def _interpolant(x: Sequence[float], y: Sequence[float], what: str) -> PchipInterpolator:
    x_arr, y_arr = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x_arr.shape != y_arr.shape or x_arr.ndim != 1 or len(x_arr) < 2:
        raise ValueError(f"{what}: need two equally long 1-D sequences of >= 2 points")
    if not (np.all(np.isfinite(x_arr)) and np.all(np.isfinite(y_arr))):
        raise ValueError(f"{what}: points must be finite")
    order = np.argsort(x_arr)
    x_arr, y_arr = x_arr[order], y_arr[order]
    if np.any(np.diff(x_arr) <= 0):
        raise ValueError(f"{what}: abscissae must be distinct, got {x_arr.tolist()}")
    return PchipInterpolator(x_arr, y_arr, extrapolate=False)


def _log_rates(rates: Sequence[float], what: str) -> np.ndarray:
    r = np.asarray(rates, dtype=np.float64)
    if np.any(r <= 0):
        raise ValueError(f"{what}: rates must be positive")
    return np.log(r)


def _overlap(a: np.ndarray, b: np.ndarray, axis: str) -> tuple[float, float]:
    lo, hi = max(a.min(), b.min()), min(a.max(), b.max())
    if lo >= hi:
        raise NoOverlapError(
            f"the curves do not overlap in {axis}: anchor spans [{a.min():.4g}, {a.max():.4g}], "
            f"test spans [{b.min():.4g}, {b.max():.4g}]"
        )
    return float(lo), float(hi)


def bd_rate(
    anchor_rate: Sequence[float],
    anchor_psnr: Sequence[float],
    test_rate: Sequence[float],
    test_psnr: Sequence[float],
) -> float:
    """Bjøntegaard delta rate of the test curve against the anchor, in percent (negative: the test
    needs fewer bits). Raises ``NoOverlapError`` when the PSNR ranges do not overlap."""
    r_a, r_b = _log_rates(anchor_rate, "anchor"), _log_rates(test_rate, "test")
    d_a, d_b = np.asarray(anchor_psnr, np.float64), np.asarray(test_psnr, np.float64)
    fit_a, fit_b = _interpolant(d_a, r_a, "anchor"), _interpolant(d_b, r_b, "test")
    lo, hi = _overlap(d_a, d_b, "PSNR")
    mean_diff = (fit_b.integrate(lo, hi) - fit_a.integrate(lo, hi)) / (hi - lo)
    return float(np.expm1(mean_diff) * 100.0)


def bd_psnr(
    anchor_rate: Sequence[float],
    anchor_psnr: Sequence[float],
    test_rate: Sequence[float],
    test_psnr: Sequence[float],
) -> float:
    """Bjøntegaard delta PSNR of the test curve against the anchor, in dB (positive: the test is
    better at equal rate). Raises ``NoOverlapError`` when the rate ranges do not overlap."""
    r_a, r_b = _log_rates(anchor_rate, "anchor"), _log_rates(test_rate, "test")
    fit_a = _interpolant(r_a, anchor_psnr, "anchor")
    fit_b = _interpolant(r_b, test_psnr, "test")
    lo, hi = _overlap(r_a, r_b, "log-rate")
    return float((fit_b.integrate(lo, hi) - fit_a.integrate(lo, hi)) / (hi - lo))


def psnr_at_rate(rates: Sequence[float], psnrs: Sequence[float], rate: float) -> float | None:
    """The curve's PSNR at ``rate``, read off the same PCHIP of D over ln R that BD-PSNR
    integrates; None outside the measured rate range (no extrapolation)."""
    log_rates = _log_rates(rates, "curve")
    if not log_rates.min() <= np.log(rate) <= log_rates.max():
        return None
    return float(_interpolant(log_rates, psnrs, "curve")(np.log(rate)))


def rate_at_psnr(rates: Sequence[float], psnrs: Sequence[float], psnr: float) -> float | None:
    """The curve's rate at ``psnr``, read off the same PCHIP of ln R over D that BD-rate
    integrates; None outside the measured PSNR range (no extrapolation)."""
    if not min(psnrs) <= psnr <= max(psnrs):
        return None
    return float(np.exp(_interpolant(psnrs, _log_rates(rates, "curve"), "curve")(psnr)))
