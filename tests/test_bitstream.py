"""Bitstream format v1: every malformed stream raises its typed error."""

import struct

import pytest

from screen_codec.bitstream import (
    Bitstream,
    CorruptBitstreamError,
    ForeignModelError,
    NotABitstreamError,
    TileSections,
    TruncatedBitstreamError,
    UnsupportedVersionError,
    pack,
    unpack,
)

MODEL = b"\x01\x02\x03\x04\x05\x06\x07\x08"


def _stream(width=300, height=200, tile_size=128):
    n_tiles = -(-width // tile_size) * -(-height // tile_size)
    tiles = tuple(
        TileSections(z=bytes([i]) * 5, y=tuple(bytes([i, k]) * (k + 1) for k in range(3)))
        for i in range(n_tiles)
    )
    return Bitstream(4, MODEL, width, height, tile_size, tiles)


def test_pack_unpack_round_trip():
    stream = _stream()
    assert unpack(pack(stream), expected_model_id=MODEL) == stream


def test_header_fields_are_where_the_docs_say():
    data = pack(_stream())
    assert data[:4] == b"SCIC" and data[4] == 1 and data[5] == 4 and data[6:14] == MODEL
    assert struct.unpack(">HHHBB", data[14:22]) == (300, 200, 128, 3, 0)


def test_truncated_stream_is_detected_at_every_length():
    data = pack(_stream())
    for length in range(4, len(data)):
        with pytest.raises(TruncatedBitstreamError):
            unpack(data[:length])


def test_flipped_payload_bit_fails_the_checksum():
    data = bytearray(pack(_stream()))
    data[-10] ^= 0x01
    with pytest.raises(CorruptBitstreamError):
        unpack(bytes(data))


def test_foreign_model_version_and_magic():
    data = pack(_stream())
    with pytest.raises(ForeignModelError):
        unpack(data, expected_model_id=b"\xff" * 8)
    with pytest.raises(UnsupportedVersionError):
        unpack(data[:4] + b"\x02" + data[5:])
    with pytest.raises(NotABitstreamError):
        unpack(b"\x89PNG\r\n\x1a\n" + data[8:])
    with pytest.raises(NotABitstreamError):
        unpack(b"")


def test_trailing_garbage_is_corrupt():
    with pytest.raises(CorruptBitstreamError):
        unpack(pack(_stream()) + b"\x00")
