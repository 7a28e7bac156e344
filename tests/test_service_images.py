"""service.images: sizes from file headers (before any pixel decoding), raw layouts, masks."""

from __future__ import annotations

import cv2
import grpc
import numpy as np
import pytest

from service import images
from service.api.screencodec.v1 import screencodec_pb2 as pb
from service.errors import ServiceError

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (37, 53, 3), dtype=np.uint8)  # odd sizes catch width/height swaps
BGR = cv2.cvtColor(RGB, cv2.COLOR_RGB2BGR)


@pytest.mark.parametrize(
    "data",
    [
        cv2.imencode(".png", BGR)[1].tobytes(),
        cv2.imencode(".jpg", BGR)[1].tobytes(),
        cv2.imencode(".jpg", BGR, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1].tobytes(),
        cv2.imencode(".ppm", BGR)[1].tobytes(),
        b"P6\n# made by hand\n53 37\n255\n" + RGB.tobytes(),
        cv2.imencode(".png", cv2.cvtColor(BGR, cv2.COLOR_BGR2GRAY))[1].tobytes(),
    ],
    ids=["png", "jpeg", "progressive-jpeg", "ppm", "ppm-comment", "grey-png"],
)
def test_probe_size_matches_the_decoded_image(data):
    assert images.probe_size(data) == (53, 37)
    assert images.decode_file(data).shape == (37, 53, 3)


def test_lossless_files_decode_to_rgb_order():
    assert np.array_equal(images.decode_file(cv2.imencode(".png", BGR)[1].tobytes()), RGB)


@pytest.mark.parametrize("data", [b"", b"GIF89a....", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xda\x00\x02", b"P6\nabc"])
def test_unreadable_headers_are_invalid_argument(data):
    with pytest.raises(ServiceError) as info:
        images.probe_size(data)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_pixel_limit():
    images.check_pixels(8192, 8192, 8192 * 8192)
    for width, height in ((8192, 8193), (0, 10)):
        with pytest.raises(ServiceError):
            images.check_pixels(width, height, 8192 * 8192)


@pytest.mark.parametrize(
    "fmt, pixels",
    [
        (pb.PIXEL_FORMAT_RGB8, RGB),
        (pb.PIXEL_FORMAT_BGR8, BGR),
        (pb.PIXEL_FORMAT_RGBA8, cv2.cvtColor(RGB, cv2.COLOR_RGB2RGBA)),
        (pb.PIXEL_FORMAT_BGRA8, cv2.cvtColor(RGB, cv2.COLOR_RGB2BGRA)),
    ],
)
def test_raw_layouts_become_rgb(fmt, pixels):
    images.check_raw(pixels.tobytes(), 53, 37, fmt)
    assert np.array_equal(images.raw_to_rgb(pixels.tobytes(), 53, 37, fmt), RGB)
    with pytest.raises(ServiceError):
        images.check_raw(pixels.tobytes()[:-1], 53, 37, fmt)


def test_text_mask_is_binary_and_sized_like_the_image():
    data = np.zeros((37, 53), np.uint8)
    data[5:9, 10:30] = 200
    mask = images.text_mask(pb.TextMask(width=53, height=37, data=data.tobytes()), 53, 37)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 1} and mask.sum() == 4 * 20
    with pytest.raises(ServiceError):
        images.text_mask(pb.TextMask(width=37, height=53, data=data.tobytes()), 53, 37)


def test_png_encoding_is_lossless():
    assert np.array_equal(images.decode_file(images.encode_png(RGB)), RGB)
