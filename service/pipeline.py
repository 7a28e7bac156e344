"""The request path: image bytes -> RGB -> text mask -> runtime.encode -> bitstream, and back.

prepare_* make the cheap checks (sizes from headers, quality, mask, bitstream structure) so that a
bad request fails before it takes a worker; run_* do the pixel work on a codec thread. The server
calls both through admission control; the CLI's local mode calls them directly.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import grpc
import numpy as np

from screen_codec import bitstream
from service import images
from service.api.screencodec.v1 import screencodec_pb2 as pb
from service.errors import InvalidArgument, ServiceError, bitstream_error
from service.models import ModelRegistry, Runtime


@dataclass(frozen=True)
class EncodeJob:
    runtime: Runtime
    quality: int
    # The image bytes, read out of the request once (each protobuf bytes access copies them).
    payload: bytes
    raw: pb.RawImage | None  # layout of payload if it is a raw frame; None = an image file
    text_mask: str | np.ndarray | None  # detector name, client mask, or None = model default
    frame_id: int


@dataclass(frozen=True)
class DecodeJob:
    runtime: Runtime
    bitstream: bytes
    output_format: int  # pb.OutputFormat, never UNSPECIFIED
    frame_id: int


def resolve_quality(runtime: Runtime, requested: int) -> int:
    if requested == 0:
        return runtime.default_quality
    levels = sorted(q.index for q in runtime.qualities)
    if requested not in levels:
        raise InvalidArgument(
            f"quality {requested} is out of range: model {runtime.name} has {levels[0]}..{levels[-1]}"
            f" (0 = its default, {runtime.default_quality})"
        )
    return requested


def prepare_encode(runtime: Runtime, request: pb.EncodeRequest, max_pixels: int) -> EncodeJob:
    quality = resolve_quality(runtime, request.quality)
    source = request.WhichOneof("input")
    raw = None
    if source == "image":
        payload = request.image
        width, height = images.probe_size(payload)
    elif source == "raw":
        raw = pb.RawImage(width=request.raw.width, height=request.raw.height, format=request.raw.format)
        payload = request.raw.data
        width, height = raw.width, raw.height
    else:
        raise InvalidArgument("request has no image: set `image` (PNG/JPEG/PPM bytes) or `raw`")
    images.check_pixels(width, height, max_pixels)
    if raw is not None:
        images.check_raw(payload, width, height, raw.format)

    mask_source = request.WhichOneof("text_mask")
    text_mask: str | np.ndarray | None = None
    if mask_source == "detector":
        if request.detector not in runtime.detectors:
            raise InvalidArgument(
                f"unknown detector {request.detector!r}; model {runtime.name} accepts "
                + ", ".join(runtime.detectors)
            )
        text_mask = request.detector
    elif mask_source == "mask":
        text_mask = images.text_mask(request.mask, width, height)
    return EncodeJob(runtime, quality, payload, raw, text_mask, request.frame_id)


def run_encode(job: EncodeJob, cancelled: threading.Event) -> pb.EncodeResponse:
    start = time.perf_counter()
    if job.raw is None:
        rgb = images.decode_file(job.payload)
    else:
        rgb = images.raw_to_rgb(job.payload, job.raw.width, job.raw.height, job.raw.format)
    decoded = time.perf_counter()
    _stop_if(cancelled)
    try:
        result = job.runtime.encode(rgb, job.quality, job.text_mask)
    except ValueError as err:  # the runtime's word on quality/mask
        raise InvalidArgument(str(err)) from None
    stage_ms = {
        "image_decode": (decoded - start) * 1e3,
        **result.timings_ms,
        "total": (time.perf_counter() - start) * 1e3,
    }
    return pb.EncodeResponse(
        bitstream=result.bitstream,
        stats=pb.EncodeStats(width=result.width, height=result.height, bpp=result.bpp, stage_ms=stage_ms),
        model=job.runtime.name,
        quality=job.quality,
        frame_id=job.frame_id,
    )


def prepare_decode(registry: ModelRegistry, request: pb.DecodeRequest, max_pixels: int) -> DecodeJob:
    data = request.bitstream
    try:
        stream = bitstream.unpack(data)
    except bitstream.BitstreamError as err:
        raise bitstream_error(err) from None
    runtime = registry.for_stream(request.model, stream.model_id)
    # The header declares the output size: refuse before the runtime allocates it.
    images.check_pixels(stream.width, stream.height, max_pixels)
    output_format = request.format or pb.OUTPUT_FORMAT_PNG
    if output_format not in (pb.OUTPUT_FORMAT_PNG, pb.OUTPUT_FORMAT_RAW_RGB8):
        raise InvalidArgument(f"unknown output format {request.format}")
    return DecodeJob(runtime, data, output_format, request.frame_id)


def run_decode(job: DecodeJob, cancelled: threading.Event) -> pb.DecodeResponse:
    start = time.perf_counter()
    try:
        result = job.runtime.decode(job.bitstream)
    except bitstream.BitstreamError as err:
        raise bitstream_error(err) from None
    _stop_if(cancelled)
    encode_start = time.perf_counter()
    rgb = np.ascontiguousarray(result.rgb, dtype=np.uint8)
    if job.output_format == pb.OUTPUT_FORMAT_PNG:
        image = images.encode_png(rgb)
    else:
        image = rgb.tobytes()
    end = time.perf_counter()
    return pb.DecodeResponse(
        image=image,
        width=rgb.shape[1],
        height=rgb.shape[0],
        format=job.output_format,
        stage_ms={
            **result.timings_ms,
            "image_encode": (end - encode_start) * 1e3,
            "total": (end - start) * 1e3,
        },
        frame_id=job.frame_id,
    )


def list_models(registry: ModelRegistry) -> pb.ListModelsResponse:
    return pb.ListModelsResponse(
        default_model=registry.default_name,
        models=[
            pb.ModelInfo(
                name=rt.name,
                model_id=rt.model_id,
                qualities=[
                    pb.QualityLevel(quality=q.index, rd_lambda=q.lmbda, typical_bpp=q.typical_bpp)
                    for q in rt.qualities
                ],
                default_quality=rt.default_quality,
                detectors=list(rt.detectors),
                execution_providers=list(rt.providers),
                active_execution_provider=rt.providers[0] if rt.providers else "",
            )
            for rt in registry
        ],
    )


def _stop_if(cancelled: threading.Event) -> None:
    # Nobody will read the answer: skip the remaining stages and free the worker.
    if cancelled.is_set():
        raise ServiceError(grpc.StatusCode.CANCELLED, "request cancelled")
