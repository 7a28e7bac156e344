"""Entropy coding of the latents (y, z): the one implementation both worlds use.

The loop below is written once, on numpy arrays, and drives the entropy-parameter networks it is
given (:class:`EntropyParameters`). Everything that decides a CDF index or a symbol goes through that
interface, so it is the exactness boundary of ARCHITECTURE.md; both worlds give it the same exact
fixed-point implementation (``integer_networks.IntegerEntropyParameters``), so a stream's decisions
do not depend on the machine or on the float kernels of g_a / g_s.

Encoder (the decoder mirrors it, recovering each slice before computing the next one's params)::

    z ──round(z - median)──► rANS(z table, index = channel) ──► bits(z);  z^ = sym + median
    z^ ──hyper()──► (means, scales)
    for k in 0..S-1:
        (mu_k, sigma_k) = slice_moments(k, means, scales, y^_<k, q)   # at most max_support slices
        sym_k = round(y_k - mu_k) ──► rANS(gaussian table, index = scale_index(sigma_k))
        y^_k  = refine(k, means, y^_<k, sym_k + mu_k)                   # LRP, eq. y^ += 0.5 tanh(.)

``round`` is the nearest integer, or the encoder's rate-aware rounding (:func:`round_residuals`):
a choice of symbols the decoder needs nothing to follow, so every stream decodes the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from ..bitstream import TileSections
from . import rans
from .rans import CdfTable


class EntropyParameters(Protocol):
    """The entropy-parameter networks of one model (hyper-synthesis, slice mean/scale, LRP)."""

    num_slices: int

    def hyper(self, z_hat: np.ndarray, quality: int) -> tuple[np.ndarray, np.ndarray]:
        """z^ (1, Cz, h, w) -> latent means and scales (1, M, 4h, 4w)."""
        ...

    def slice_moments(
        self, k: int, means: np.ndarray, scales: np.ndarray, support: Sequence[np.ndarray], quality: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and scale of slice k given the decoded slices it depends on, at quality q."""
        ...

    def refine(
        self, k: int, means: np.ndarray, support: Sequence[np.ndarray], y_hat: np.ndarray
    ) -> np.ndarray:
        """Latent residual prediction: y^_k + 0.5 * tanh(lrp_k(means, support, y^_k))."""
        ...


@dataclass(frozen=True, eq=False)
class EntropyTables:
    """The data the rANS coder needs, exported with the model (see model_export)."""

    z_table: CdfTable  # one distribution per channel of z
    z_medians: np.ndarray  # (Cz,) float32
    gaussian_table: CdfTable  # one zero-mean Gaussian per entry of scale_table
    scale_table: np.ndarray  # (L,) float32, ascending

    def to_dict(self) -> dict:
        return {
            "z_table": self.z_table.to_dict(),
            "z_medians": self.z_medians.tolist(),
            "gaussian_table": self.gaussian_table.to_dict(),
            "scale_table": self.scale_table.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "EntropyTables":
        return cls(
            z_table=CdfTable.from_dict(data["z_table"]),
            z_medians=np.asarray(data["z_medians"], dtype=np.float32),
            gaussian_table=CdfTable.from_dict(data["gaussian_table"]),
            scale_table=np.asarray(data["scale_table"], dtype=np.float32),
        )


def scale_boundaries(scale_table: np.ndarray) -> np.ndarray:
    """Decision boundaries between neighbouring table entries: their geometric midpoints."""
    return np.sqrt(scale_table[:-1] * scale_table[1:]).astype(np.float32)


def scale_indexes(scales: np.ndarray, scale_table: np.ndarray) -> np.ndarray:
    """Index of the Gaussian CDF for each scale: the table entry nearest in log scale.

    CompressAI takes the first entry >= the scale, which codes with a distribution up to one table
    step (x1.13) too wide; the nearest entry halves the worst-case mismatch and cuts the average
    excess rate (KL ~ (log ratio)^2 / 2) by about 4x. Measured on the bundled model: coded y size
    went from 1.009-1.072x to 0.994-1.010x of the likelihood estimate (docs/MODEL.md).
    """
    boundaries = scale_boundaries(scale_table)
    return np.searchsorted(boundaries, scales.astype(np.float32), side="left").astype(np.int32)


# The service's rate-aware rounding threshold (RuntimeOptions, bench/rd.py): measured on the default
# model over the 36 held-out screenshots (docs/BENCHMARKS.md, "Rate-aware rounding").
RATE_AWARE_ROUNDING_BITS = 14.0


def round_residuals(
    residuals: np.ndarray, indexes: np.ndarray, table: CdfTable, threshold_bits: float = math.inf
) -> np.ndarray:
    """The symbols of y - mu: nearest integers, each moved one step toward zero (the predicted mean)
    where that saves the stream more than ``threshold_bits`` (inf: nearest integers only).

    Where the hyperprior mispredicts a channel's mean over a flat region (one channel per slice on
    clean pages at q1), residuals of 0.5-1.5 fall under its narrowest Gaussians, whose +-1 costs up
    to 16 bits (the CDF floor) where 0 costs under one; stepping to 0 buys them at a latent error
    below 1.5 instead of 0.5. With the default's tables 14 bits steps exactly the +-1s under the two
    narrowest (sigma 0.110, 0.124). The threshold is high because the errors are coherent over the
    region: 6 bits cut a page's q1 bits by 38 % and its PSNR by 4.7 dB, 14 bits cut them by 17 % at
    +0.09 dB (docs/BENCHMARKS.md, "Rate-aware rounding").
    """
    symbols = np.rint(residuals).astype(np.int32)
    if threshold_bits == math.inf:  # nothing saves infinitely many bits: skip the pricing
        return symbols
    nonzero = np.flatnonzero(symbols)  # zeros have nowhere to step: most symbols, priced for nothing
    flat = symbols.reshape(-1)  # symbols is this function's own array: stepped in place
    kept, positions = flat[nonzero], indexes.reshape(-1)[nonzero]
    stepped = kept - np.sign(kept)
    saved = rans.symbol_bits(kept, positions, table) - rans.symbol_bits(stepped, positions, table)
    flat[nonzero] = np.where(saved > threshold_bits, stepped, kept)
    return flat.reshape(symbols.shape)


def _channel_indexes(shape: tuple[int, ...]) -> np.ndarray:
    return np.broadcast_to(np.arange(shape[1], dtype=np.int32).reshape(1, -1, 1, 1), shape)


def _slice_channels(num_channels: int, num_slices: int) -> list[slice]:
    width = num_channels // num_slices
    return [slice(k * width, (k + 1) * width) for k in range(num_slices)]


@dataclass(frozen=True)
class QuantisedLatents:
    """What the coder writes for one tile, before rANS: z's symbols, each y slice's symbols and scale
    indexes, and the decoder-side latents (y^, z^) they reproduce."""

    z_symbols: np.ndarray
    y_symbols: tuple[np.ndarray, ...]
    y_indexes: tuple[np.ndarray, ...]
    y_hat: np.ndarray
    z_hat: np.ndarray


def quantise_latents(
    y: np.ndarray,
    z: np.ndarray,
    params: EntropyParameters,
    tables: EntropyTables,
    quality: int,
    rounding_threshold_bits: float = math.inf,
) -> QuantisedLatents:
    """The encoder's loop of the module docstring, up to the rANS calls; the threshold of
    :func:`round_residuals` (inf: nearest integers)."""
    medians = tables.z_medians.reshape(1, -1, 1, 1)
    z_symbols = np.rint(z - medians).astype(np.int32)
    z_hat = (z_symbols + medians).astype(np.float32)

    means, scales = params.hyper(z_hat, quality)
    decoded: list[np.ndarray] = []
    y_symbols, y_indexes = [], []
    for k, channels in enumerate(_slice_channels(y.shape[1], params.num_slices)):
        mu, sigma = params.slice_moments(k, means, scales, decoded, quality)
        indexes = scale_indexes(sigma, tables.scale_table)
        symbols = round_residuals(y[:, channels] - mu, indexes, tables.gaussian_table, rounding_threshold_bits)
        y_symbols.append(symbols)
        y_indexes.append(indexes)
        decoded.append(params.refine(k, means, decoded, (symbols + mu).astype(np.float32)))
    return QuantisedLatents(
        z_symbols, tuple(y_symbols), tuple(y_indexes), np.concatenate(decoded, axis=1), z_hat
    )


def encode_latents(
    y: np.ndarray,
    z: np.ndarray,
    params: EntropyParameters,
    tables: EntropyTables,
    quality: int,
    rounding_threshold_bits: float = math.inf,
) -> tuple[TileSections, np.ndarray, np.ndarray]:
    """Code one tile's latents. Returns the sections and the decoder-side y^ and z^."""
    latents = quantise_latents(y, z, params, tables, quality, rounding_threshold_bits)
    return code_latents(latents, tables), latents.y_hat, latents.z_hat


def code_latents(latents: QuantisedLatents, tables: EntropyTables) -> TileSections:
    """The rANS calls of the encoder's loop: one section for z, one per y slice."""
    z_bytes = rans.encode(latents.z_symbols, _channel_indexes(latents.z_symbols.shape), tables.z_table)
    y_bytes = tuple(
        rans.encode(symbols, indexes, tables.gaussian_table)
        for symbols, indexes in zip(latents.y_symbols, latents.y_indexes)
    )
    return TileSections(z=z_bytes, y=y_bytes)


def decode_latents(
    sections: TileSections,
    z_shape: tuple[int, int, int, int],
    params: EntropyParameters,
    tables: EntropyTables,
    quality: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`encode_latents`: (y^, z^) from one tile's sections."""
    if len(sections.y) != params.num_slices:
        raise ValueError(f"stream has {len(sections.y)} slices, model has {params.num_slices}")
    medians = tables.z_medians.reshape(1, -1, 1, 1)
    z_symbols = rans.decode(sections.z, _channel_indexes(z_shape), tables.z_table)
    z_hat = (z_symbols + medians).astype(np.float32)

    means, scales = params.hyper(z_hat, quality)
    decoded: list[np.ndarray] = []
    for k, data in enumerate(sections.y):
        mu, sigma = params.slice_moments(k, means, scales, decoded, quality)
        symbols = rans.decode(data, scale_indexes(sigma, tables.scale_table), tables.gaussian_table)
        decoded.append(params.refine(k, means, decoded, (symbols + mu).astype(np.float32)))
    return np.concatenate(decoded, axis=1), z_hat
