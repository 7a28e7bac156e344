"""Classical image codecs (imagecodecs) and the measurements every codec in the benchmark gets.

    RGB uint8 ──encode(setting)──► file bytes ──decode──► RGB uint8
        ──► bpp = 8 · bytes / (H · W)
            PSNR-RGB = 10 · log10(255² / MSE),  MSE = mean over all H·W·3 samples of (x - x̂)²
            text PSNR = the same with the mean taken over the samples inside the text mask only
            encode / decode wall time (ms, one run each: the host is shared and noisy)

Rates count the whole file as a user would store it (container headers included: a few hundred
bytes, < 0.003 bpp at 720p). PSNR is capped at 100 dB (MSE 255² · 10^-10), so an exact reconstruction
scores 100 dB instead of infinity and curves stay averageable. The sweeps run from each codec's
lowest quality to just short of lossless (JPEG and WebP quality 100 are still lossy; AVIF 100 and
JPEG XL 100 are lossless and left out), so they span roughly 0.1 to 2-4 bpp on screenshots and
the PSNR overlap with a learned codec is as wide as the codecs allow.

Codecs (FINDINGS section 5: AVIF 4:4:4 is the strongest classical codec on screenshots):
  jpeg      libjpeg-turbo, quality 1..100, its default 4:2:0 chroma, Huffman tables optimised
  webp      libwebp LOSSY (``lossless=False``; the lossless mode is a different codec), quality 0..100
  jpegxl    libjxl, effort 7 (cjxl's default), quality 10..99 (libjxl maps quality to distance;
            quality 1 gave more bits and 7.6 dB less than 10 on the fixtures)
  avif-444  libavif + aom, 4:4:4, speed 6 (avifenc's default), quality 0..98
  avif-420  the same with 4:2:0: shows what chroma subsampling costs on coloured text
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import imagecodecs
import numpy as np

from screen_codec.metrics import psnr

PSNR_CEILING_DB = 100.0


@dataclass(frozen=True)
class Measurement:
    """One image coded at one setting."""

    bytes: int
    bpp: float
    psnr: float
    text_psnr: float | None  # None when the image has no text mask
    encode_ms: float
    decode_ms: float


@dataclass(frozen=True)
class ClassicalCodec:
    """A classical codec swept over its quality parameter."""

    name: str
    label: str  # codec, library and the fixed options, for tables
    settings: tuple[int, ...]  # the quality parameter's sweep, worst to best
    encode: Callable[[np.ndarray, int, int], bytes]  # (rgb, setting, threads) -> file bytes
    decode: Callable[[bytes, int], np.ndarray]  # (file bytes, threads) -> rgb


def measure(
    rgb: np.ndarray,
    text_mask: np.ndarray | None,
    encode: Callable[[], bytes],
    decode: Callable[[bytes], np.ndarray],
) -> Measurement:
    """Time one encode and one decode of ``rgb`` and score the reconstruction."""
    start = time.perf_counter()
    data = encode()
    encoded = time.perf_counter()
    decoded = decode(data)
    done = time.perf_counter()
    if decoded.shape != rgb.shape or decoded.dtype != np.uint8:
        raise RuntimeError(f"decoder returned {decoded.dtype} {decoded.shape}, expected uint8 {rgb.shape}")
    height, width = rgb.shape[:2]
    has_text = text_mask is not None and bool(text_mask.any())
    return Measurement(
        bytes=len(data),
        bpp=8.0 * len(data) / (height * width),
        psnr=psnr(rgb, decoded, ceiling_db=PSNR_CEILING_DB),
        text_psnr=psnr(rgb, decoded, text_mask, ceiling_db=PSNR_CEILING_DB) if has_text else None,
        encode_ms=(encoded - start) * 1e3,
        decode_ms=(done - encoded) * 1e3,
    )


def _avif(pixelformat: str) -> Callable[[np.ndarray, int, int], bytes]:
    def encode(rgb: np.ndarray, quality: int, threads: int) -> bytes:
        return imagecodecs.avif_encode(
            rgb, level=quality, speed=6, pixelformat=pixelformat, codec="aom", numthreads=threads
        )

    return encode


CODECS: dict[str, ClassicalCodec] = {
    codec.name: codec
    for codec in (
        ClassicalCodec(
            "jpeg",
            "JPEG (libjpeg-turbo, 4:2:0, optimised Huffman)",
            (1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100),
            lambda rgb, q, threads: imagecodecs.jpeg8_encode(rgb, level=q, optimize=True),
            lambda data, threads: imagecodecs.jpeg8_decode(data),
        ),
        ClassicalCodec(
            "webp",
            "WebP lossy (libwebp, method 4)",
            (0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100),
            lambda rgb, q, threads: imagecodecs.webp_encode(
                rgb, level=q, lossless=False, method=4, numthreads=threads
            ),
            lambda data, threads: imagecodecs.webp_decode(data),
        ),
        ClassicalCodec(
            "jpegxl",
            "JPEG XL (libjxl, effort 7)",
            (10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 98, 99),
            lambda rgb, q, threads: imagecodecs.jpegxl_encode(rgb, level=q, effort=7, numthreads=threads),
            lambda data, threads: imagecodecs.jpegxl_decode(data, numthreads=threads),
        ),
        ClassicalCodec(
            "avif-444",
            "AVIF (libavif + aom, 4:4:4, speed 6)",
            (0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 98),
            _avif("444"),
            lambda data, threads: imagecodecs.avif_decode(data, numthreads=threads),
        ),
        ClassicalCodec(
            "avif-420",
            "AVIF (libavif + aom, 4:2:0, speed 6)",
            (0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 98),
            _avif("420"),
            lambda data, threads: imagecodecs.avif_decode(data, numthreads=threads),
        ),
    )
}


def code_image(
    codec: ClassicalCodec, rgb: np.ndarray, text_mask: np.ndarray | None, setting: int, threads: int = 1
) -> Measurement:
    """Code ``rgb`` with ``codec`` at one quality setting and measure it."""
    return measure(
        rgb,
        text_mask,
        lambda: codec.encode(rgb, setting, threads),
        lambda data: codec.decode(data, threads),
    )


def library_versions() -> dict[str, str]:
    """Versions of imagecodecs and of the C libraries behind each codec."""
    return {
        "imagecodecs": imagecodecs.__version__,
        "libjpeg": imagecodecs.jpeg8_version(),
        "libwebp": imagecodecs.webp_version(),
        "libjxl": imagecodecs.jpegxl_version(),
        "libavif": imagecodecs.avif_version(),
    }
