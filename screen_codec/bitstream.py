"""Bitstream format v1: the contract between the PyTorch world and the serving runtime.

Layout (all integers big-endian; field table in docs/BITSTREAM.md)::

    header  : magic "SCIC" | version u8 | quality u8 | model_id 8 bytes | width u16 | height u16
              | tile_size u16 (0 = one tile) | num_slices u8 | reserved u8 (0)
    lengths : per tile (row-major): z_len u32, then num_slices x y_len u32
    payload : per tile: z bytes, then y bytes of slice 1..num_slices
    trailer : crc32 u32 over everything before it

The text prior is never transmitted: the decoder recovers an approximation from the hyperprior.
Every way a stream can be wrong maps to one typed error below, never to a crash or a silently
wrong image.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

MAGIC = b"SCIC"
FORMAT_VERSION = 1
MODEL_ID_BYTES = 8
_HEADER = struct.Struct(">4sBB8sHHHBB")
_U32 = struct.Struct(">I")


class BitstreamError(ValueError):
    """Base class: the bytes are not a stream this decoder can turn into an image."""


class NotABitstreamError(BitstreamError):
    """The bytes do not start with the format's magic number."""


class UnsupportedVersionError(BitstreamError):
    """The stream is of a format version this decoder does not know."""


class ForeignModelError(BitstreamError):
    """The stream was made by another model (its model id differs from the decoder's)."""


class TruncatedBitstreamError(BitstreamError):
    """The stream is shorter than its header and section lengths declare."""


class CorruptBitstreamError(BitstreamError):
    """The checksum does not match, or a field is out of range."""


@dataclass(frozen=True)
class TileSections:
    """Entropy-coded sections of one tile: the hyper-latent z and one substream per slice of y."""

    z: bytes
    y: tuple[bytes, ...]


@dataclass(frozen=True)
class Bitstream:
    quality: int
    model_id: bytes
    width: int
    height: int
    tile_size: int
    tiles: tuple[TileSections, ...]

    @property
    def num_slices(self) -> int:
        return len(self.tiles[0].y)


def tile_count(width: int, height: int, tile_size: int) -> int:
    """Number of tiles a width x height image is cut into (tile_size 0 = one tile)."""
    if tile_size == 0:
        return 1
    return -(-width // tile_size) * -(-height // tile_size)


def pack(stream: Bitstream) -> bytes:
    """Serialise a :class:`Bitstream` to bytes (header, section lengths, payload, crc32)."""
    if len(stream.model_id) != MODEL_ID_BYTES:
        raise ValueError(f"model_id must be {MODEL_ID_BYTES} bytes")
    if len(stream.tiles) != tile_count(stream.width, stream.height, stream.tile_size):
        raise ValueError("tile count does not match width, height and tile_size")
    parts = [
        _HEADER.pack(
            MAGIC,
            FORMAT_VERSION,
            stream.quality,
            stream.model_id,
            stream.width,
            stream.height,
            stream.tile_size,
            stream.num_slices,
            0,
        )
    ]
    for tile in stream.tiles:
        parts.extend(_U32.pack(len(section)) for section in (tile.z, *tile.y))
    for tile in stream.tiles:
        parts.extend((tile.z, *tile.y))
    body = b"".join(parts)
    return body + _U32.pack(zlib.crc32(body))


def unpack(data: bytes, expected_model_id: bytes | None = None) -> Bitstream:
    """Parse and validate bytes made by :func:`pack`; raise a :class:`BitstreamError` otherwise."""
    data = bytes(data)
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise NotABitstreamError("not a screen-codec bitstream (bad magic)")
    if len(data) < _HEADER.size:
        raise TruncatedBitstreamError(f"stream of {len(data)} bytes is shorter than its header")
    _, version, quality, model_id, width, height, tile_size, num_slices, reserved = (
        _HEADER.unpack_from(data)
    )
    if version != FORMAT_VERSION:
        raise UnsupportedVersionError(
            f"bitstream format version {version}; this decoder reads version {FORMAT_VERSION}"
        )
    if width == 0 or height == 0 or num_slices == 0 or reserved != 0 or tile_size % 64:
        raise CorruptBitstreamError("header fields out of range")
    sections_per_tile = 1 + num_slices
    n_lengths = tile_count(width, height, tile_size) * sections_per_tile
    lengths_end = _HEADER.size + n_lengths * _U32.size
    if len(data) < lengths_end + _U32.size:
        raise TruncatedBitstreamError("stream ends inside its section-length table")
    lengths = struct.unpack_from(f">{n_lengths}I", data, _HEADER.size)
    payload_end = lengths_end + sum(lengths)
    if len(data) < payload_end + _U32.size:
        raise TruncatedBitstreamError(
            f"stream has {len(data)} bytes, its sections declare {payload_end + _U32.size}"
        )
    if len(data) > payload_end + _U32.size:
        raise CorruptBitstreamError("trailing bytes after the checksum")
    (crc,) = _U32.unpack_from(data, payload_end)
    if crc != zlib.crc32(data[:payload_end]):
        raise CorruptBitstreamError("checksum mismatch")
    if expected_model_id is not None and model_id != expected_model_id:
        raise ForeignModelError(
            f"stream made by model {model_id.hex()}, this decoder runs {expected_model_id.hex()}"
        )
    sections = []
    offset = lengths_end
    for length in lengths:
        sections.append(data[offset : offset + length])
        offset += length
    tiles = tuple(
        TileSections(z=sections[i], y=tuple(sections[i + 1 : i + sections_per_tile]))
        for i in range(0, len(sections), sections_per_tile)
    )
    return Bitstream(quality, model_id, width, height, tile_size, tiles)
