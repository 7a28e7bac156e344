"""Reference streams: a model's cross-hardware decoding contract, checked wherever the model loads.

A stream encoded on one replica must decode on any other, GPU or CPU (ARCHITECTURE.md, the
exactness boundary): the rANS decoder driven by the integer entropy-parameter path must reproduce
the encoder's latents bit for bit, whatever the CPU, BLAS build or thread count. The export
encodes a real screenshot at the lowest and the highest quality (the latter in tiles), stores the
streams beside the networks and records the sha256 of the latents they decode to; every later load
decodes them again and compares::

    exporting host:  screenshot ──encode──► reference_qK.scic ──decode latents──► sha256 ──► manifest
    any other host:  reference_qK.scic ──decode latents──► sha256 == manifest's ? ──► serve : refuse

Only the latents are the contract. The synthesis network stays floating point (a pixel may round
one code value apart between hosts), so the decoded image is held to the PSNR recorded at export
(by the tests, which have the source screenshot), not to its bytes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from . import codec
from .bitstream import unpack
from .metrics import psnr


class ReferenceStreamError(ValueError):
    """A reference stream does not decode on this host to the latents recorded at export."""


def stream_file(quality: int) -> str:
    return f"reference_q{quality}.scic"


def latents_digest(nets: codec.CodecNetworks, data: bytes) -> str:
    """sha256 over every tile's decoded z^ then y^ (float32, C order), tiles in stream order."""
    stream = unpack(data, expected_model_id=nets.model_id)
    digest = hashlib.sha256()
    boxes = codec.tile_boxes(stream.width, stream.height, stream.tile_size)
    for (x0, y0, x1, y1), sections in zip(boxes, stream.tiles):
        y_hat, z_hat = codec.decode_tile_latents(nets, sections, x1 - x0, y1 - y0, stream.quality)
        digest.update(np.ascontiguousarray(z_hat, np.float32).tobytes())
        digest.update(np.ascontiguousarray(y_hat, np.float32).tobytes())
    return digest.hexdigest()


def make(
    nets: codec.CodecNetworks, rgb: np.ndarray, mask: np.ndarray, quality: int, tile_size: int
) -> tuple[bytes, dict[str, Any]]:
    """Encode one reference stream; returns its bytes and its manifest entry."""
    data = codec.encode_image(nets, rgb, mask, quality, tile_size=tile_size)
    entry = {
        "file": stream_file(quality),
        "quality": quality,
        "tile_size": tile_size,
        "bytes": len(data),
        "latents_sha256": latents_digest(nets, data),
        "psnr_db": psnr(codec.decode_image(nets, data), rgb),
    }
    return data, entry


def verify(nets: codec.CodecNetworks, model_dir: Path, streams: list[dict[str, Any]]) -> None:
    """Decode each reference stream's latents here and compare with the recorded digest.

    Raises :class:`ReferenceStreamError` naming every stream that decodes differently (or not at
    all: a derailed rANS decoder raises)."""
    failures = []
    for entry in streams:
        data = (Path(model_dir) / entry["file"]).read_bytes()
        try:
            digest = latents_digest(nets, data)
        except (ValueError, RuntimeError) as error:
            failures.append(f"{entry['file']} does not decode: {error}")
            continue
        if digest != entry["latents_sha256"]:
            failures.append(
                f"{entry['file']} decodes to latents {digest[:16]}..., recorded {entry['latents_sha256'][:16]}..."
            )
    if failures:
        raise ReferenceStreamError("; ".join(failures))
