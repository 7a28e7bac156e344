"""Image bytes <-> RGB arrays: PNG/JPEG/PPM files, raw pixel buffers, client text masks.

The pixel limit is checked from the file header (or the raw frame's declared size) before any
pixel buffer is allocated, so a small file that declares a huge image costs nothing.
"""

from __future__ import annotations

import struct

import cv2
import numpy as np

from service.api.screencodec.v1 import screencodec_pb2 as pb
from service.errors import InvalidArgument

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOI = b"\xff\xd8"
# Start-of-frame markers carry the size; C4 (DHT), C8 (JPG), CC (DAC) share the range but do not.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers that stand alone (no length field): TEM, RST0-7, SOI.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})
_NETPBM_MAGICS = (b"P2", b"P3", b"P5", b"P6")  # PGM/PPM, ASCII and binary: what OpenCV reads

# Bytes per pixel, and the channel order that turns each layout into RGB.
_RAW_LAYOUTS: dict[int, tuple[int, list[int]]] = {
    pb.PIXEL_FORMAT_RGB8: (3, [0, 1, 2]),
    pb.PIXEL_FORMAT_BGR8: (3, [2, 1, 0]),
    pb.PIXEL_FORMAT_RGBA8: (4, [0, 1, 2]),
    pb.PIXEL_FORMAT_BGRA8: (4, [2, 1, 0]),
}


def probe_size(data: bytes) -> tuple[int, int]:
    """(width, height) read from a PNG, JPEG or PPM/PGM header, without decoding pixels."""
    if data.startswith(_PNG_SIGNATURE):
        # The IHDR chunk is required to come first: length, b"IHDR", width, height.
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise InvalidArgument("PNG file without an IHDR header")
        return struct.unpack(">II", data[16:24])
    if data.startswith(_JPEG_SOI):
        return _jpeg_size(data)
    if data[:2] in _NETPBM_MAGICS:
        return _netpbm_size(data)
    raise InvalidArgument("image is not a PNG, JPEG or PPM file")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise InvalidArgument("JPEG file with a broken marker structure")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        if marker == 0xDA:  # start of scan: no frame header came before it
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _JPEG_SOF:
            if pos + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    raise InvalidArgument("JPEG file without a frame header")


def _netpbm_size(data: bytes) -> tuple[int, int]:
    tokens: list[bytes] = []
    # The header is magic, width, height (then maxval) separated by whitespace, with # comments.
    for line in data[:4096].split(b"\n"):
        tokens.extend(line.split(b"#", 1)[0].split())
        if len(tokens) >= 3:
            break
    try:
        return int(tokens[1]), int(tokens[2])
    except (IndexError, ValueError):
        raise InvalidArgument("PPM file with an unreadable header") from None


def check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise InvalidArgument(f"image size {width}x{height} is empty")
    if width * height > max_pixels:
        raise InvalidArgument(
            f"image of {width}x{height} = {width * height} pixels exceeds this server's limit of "
            f"{max_pixels} pixels"
        )


def decode_file(data: bytes) -> np.ndarray:
    """Decode a PNG/JPEG/PPM file (already size-checked with probe_size) to HxWx3 RGB uint8."""
    # IMREAD_COLOR: grey becomes 3 channels, alpha is dropped, 16-bit is scaled to 8-bit.
    # EXIF orientation is ignored so the pixels keep the header's size (a client mask must match).
    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if bgr is None:
        raise InvalidArgument("image file could not be decoded (corrupt or truncated)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def check_raw(data: bytes, width: int, height: int, pixel_format: int) -> None:
    """Validate a raw frame's layout and byte count against its declared size."""
    if pixel_format not in _RAW_LAYOUTS:
        raise InvalidArgument("raw image needs a pixel format (RGB8, BGR8, RGBA8 or BGRA8)")
    channels, _ = _RAW_LAYOUTS[pixel_format]
    expected = width * height * channels
    if len(data) != expected:
        raise InvalidArgument(
            f"raw {pb.PixelFormat.Name(pixel_format)} image of {width}x{height} needs "
            f"{expected} bytes, got {len(data)}"
        )


def raw_to_rgb(data: bytes, width: int, height: int, pixel_format: int) -> np.ndarray:
    """HxWx3 RGB uint8 from a raw frame already validated by check_raw."""
    channels, order = _RAW_LAYOUTS[pixel_format]
    pixels = np.frombuffer(data, np.uint8).reshape(height, width, channels)
    return np.ascontiguousarray(pixels[:, :, order])


def text_mask(mask: pb.TextMask, width: int, height: int) -> np.ndarray:
    """HxW uint8 {0,1} from a client mask; nonzero bytes mark text."""
    if (mask.width, mask.height) != (width, height):
        raise InvalidArgument(
            f"text mask is {mask.width}x{mask.height}, the image is {width}x{height}"
        )
    if len(mask.data) != width * height:
        raise InvalidArgument(f"text mask of {width}x{height} needs {width * height} bytes")
    return (np.frombuffer(mask.data, np.uint8).reshape(height, width) != 0).astype(np.uint8)


def encode_png(rgb: np.ndarray) -> bytes:
    # Level 1: decoded frames go straight back to clients, speed matters more than size.
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()
