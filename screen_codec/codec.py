"""Image <-> bitstream: the request path of the codec, shared by both worlds (torch-free).

    RGB uint8 + text mask ──tile──► pad to 64 ──analyse (g_a, h_a)──► y_q, z_q
        ──entropy.latent_coder (rANS, exactness boundary)──► sections ──bitstream.pack──► bytes
    bytes ──bitstream.unpack──► sections ──latent_coder──► y^_q, z^_q ──synthesise (g_s)──► crop

``CodecNetworks`` is what a world provides: the PyTorch reference (models.torch_networks) or the
ONNX Runtime service (service.runtime). Both run exactly this code, so a stream made by one
decodes in the other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .bitstream import (
    Bitstream,
    BitstreamError,
    CorruptBitstreamError,
    TileSections,
    pack,
    unpack,
)
from .entropy.latent_coder import EntropyParameters, EntropyTables, decode_latents, encode_latents

PAD_MULTIPLE = 64  # y is 1/16 and z 1/64 of the padded image; window attention needs both
HYPER_STRIDE = 64
MAX_SIDE = 65535  # the bitstream stores sides as uint16


class CodecNetworks(Protocol):
    """The floating-point networks of one model plus its entropy-parameter path and tables."""

    model_id: bytes
    num_qualities: int
    tables: EntropyTables
    entropy: EntropyParameters

    def analyse(
        self, x: np.ndarray, mask: np.ndarray, quality: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """x (1,3,H,W) float32 in [0,1], mask (1,1,H,W) float32 -> gain-scaled (y_q, z_q)."""
        ...

    def synthesise(self, y_hat: np.ndarray, z_hat: np.ndarray, quality: int) -> np.ndarray:
        """Gain-scaled latents -> reconstruction (1,3,H,W) float32 (unclipped)."""
        ...


@dataclass(frozen=True)
class TileCode:
    """One coded tile and the latents the decoder will reproduce from it."""

    sections: TileSections
    y_hat: np.ndarray
    z_hat: np.ndarray


def tile_boxes(width: int, height: int, tile_size: int) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) of each tile, row-major; tile_size 0 means one tile."""
    if tile_size == 0:
        return [(0, 0, width, height)]
    return [
        (x0, y0, min(x0 + tile_size, width), min(y0 + tile_size, height))
        for y0 in range(0, height, tile_size)
        for x0 in range(0, width, tile_size)
    ]


def _padded(size: int) -> int:
    return -(-size // PAD_MULTIPLE) * PAD_MULTIPLE


def network_input(rgb: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HxWx3 uint8 and HxW mask -> edge-padded NCHW float32 arrays at multiples of 64."""
    height, width = mask.shape
    pad = ((0, _padded(height) - height), (0, _padded(width) - width))
    x = np.pad(rgb, (*pad, (0, 0)), mode="edge").astype(np.float32) / 255.0
    m = np.pad(mask, pad, mode="edge").astype(np.float32)
    return x.transpose(2, 0, 1)[None], m[None, None]


def _check_quality(nets: CodecNetworks, quality: int) -> None:
    if not 1 <= quality <= nets.num_qualities:
        raise ValueError(f"quality must be in 1..{nets.num_qualities}, got {quality}")


def encode_tile(
    nets: CodecNetworks,
    rgb: np.ndarray,
    mask: np.ndarray,
    quality: int,
    rounding_threshold_bits: float = math.inf,
) -> TileCode:
    """Analyse and entropy-code one tile (any size; padded here). ``rounding_threshold_bits``: the
    encoder's rate-aware rounding (latent_coder.round_residuals; inf: nearest integers)."""
    x, m = network_input(rgb, mask)
    y, z = nets.analyse(x, m, quality)
    sections, y_hat, z_hat = encode_latents(y, z, nets.entropy, nets.tables, quality, rounding_threshold_bits)
    return TileCode(sections, y_hat, z_hat)


def decode_tile_latents(
    nets: CodecNetworks, sections: TileSections, width: int, height: int, quality: int
) -> tuple[np.ndarray, np.ndarray]:
    """Entropy-decode one tile's (y^, z^)."""
    z_shape = (
        1,
        len(nets.tables.z_medians),
        _padded(height) // HYPER_STRIDE,
        _padded(width) // HYPER_STRIDE,
    )
    return decode_latents(sections, z_shape, nets.entropy, nets.tables, quality)


def reconstruct(
    nets: CodecNetworks, y_hat: np.ndarray, z_hat: np.ndarray, quality: int, width: int, height: int
) -> np.ndarray:
    """Synthesis, clipping to 8 bits and cropping the padding: -> HxWx3 uint8."""
    x_hat = nets.synthesise(y_hat, z_hat, quality)[0, :, :height, :width]
    return np.clip(np.rint(x_hat.transpose(1, 2, 0) * 255.0), 0, 255).astype(np.uint8)


def validate_image(rgb: np.ndarray, mask: np.ndarray) -> None:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 RGB image, got {rgb.dtype} {rgb.shape}")
    height, width = rgb.shape[:2]
    if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
        raise ValueError(f"image sides must be in 1..{MAX_SIDE}, got {width}x{height}")
    if mask.shape != (height, width):
        raise ValueError(f"text mask shape {mask.shape} does not match image {height}x{width}")


def encode_image(
    nets: CodecNetworks,
    rgb: np.ndarray,
    mask: np.ndarray,
    quality: int,
    tile_size: int = 0,
    rounding_threshold_bits: float = math.inf,
) -> bytes:
    """Compress an HxWx3 uint8 image with its HxW {0,1} text mask to a bitstream (rounding as in
    :func:`encode_tile`; the decoder does not need to know it)."""
    validate_image(rgb, mask)
    _check_quality(nets, quality)
    if tile_size % PAD_MULTIPLE:
        raise ValueError(f"tile_size must be a multiple of {PAD_MULTIPLE}")
    height, width = mask.shape
    tiles = tuple(
        encode_tile(nets, rgb[y0:y1, x0:x1], mask[y0:y1, x0:x1], quality, rounding_threshold_bits).sections
        for x0, y0, x1, y1 in tile_boxes(width, height, tile_size)
    )
    return pack(Bitstream(quality, nets.model_id, width, height, tile_size, tiles))


def decode_image(nets: CodecNetworks, data: bytes) -> np.ndarray:
    """Decompress a bitstream to an HxWx3 uint8 image; raises a BitstreamError on bad input."""
    stream = unpack(data, expected_model_id=nets.model_id)
    if not 1 <= stream.quality <= nets.num_qualities:
        raise CorruptBitstreamError(f"quality {stream.quality} outside 1..{nets.num_qualities}")
    image = np.empty((stream.height, stream.width, 3), dtype=np.uint8)
    boxes = tile_boxes(stream.width, stream.height, stream.tile_size)
    for (x0, y0, x1, y1), sections in zip(boxes, stream.tiles):
        try:
            y_hat, z_hat = decode_tile_latents(nets, sections, x1 - x0, y1 - y0, stream.quality)
        except BitstreamError:
            raise
        except (ValueError, RuntimeError) as error:  # the rANS decoder rejecting its input
            raise CorruptBitstreamError(f"entropy decoding failed: {error}") from error
        image[y0:y1, x0:x1] = reconstruct(nets, y_hat, z_hat, stream.quality, x1 - x0, y1 - y0)
    return image
