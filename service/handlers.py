"""The ScreenCodec RPCs: look up the model, check the request, queue for a worker, run the pipeline.

Unary RPCs end with the failure's status. Streams answer every frame, in order; a frame that fails
gets its status in `error` and the stream goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import TypeVar

import grpc

from service import pipeline
from service.admission import Admission, QueueFull
from service.api.screencodec.v1 import screencodec_pb2 as pb
from service.api.screencodec.v1 import screencodec_pb2_grpc as pb_grpc
from service.errors import ServiceError
from service.logs import REQUEST_ID
from service.metrics import Metrics
from service.models import ModelRegistry

log = logging.getLogger(__name__)

Request = TypeVar("Request", pb.EncodeRequest, pb.DecodeRequest)
Response = TypeVar("Response", pb.EncodeResponse, pb.DecodeResponse)
Call = Callable[[Request, grpc.aio.ServicerContext], Awaitable[Response]]


class ScreenCodecServicer(pb_grpc.ScreenCodecServicer):
    def __init__(self, registry: ModelRegistry, admission: Admission, metrics: Metrics, max_pixels: int) -> None:
        self._registry = registry
        self._admission = admission
        self._metrics = metrics
        self._max_pixels = max_pixels

    async def Encode(self, request: pb.EncodeRequest, context: grpc.aio.ServicerContext) -> pb.EncodeResponse:
        return await self._unary(self._encode, request, context)

    async def Decode(self, request: pb.DecodeRequest, context: grpc.aio.ServicerContext) -> pb.DecodeResponse:
        return await self._unary(self._decode, request, context)

    async def EncodeStream(
        self, requests: AsyncIterator[pb.EncodeRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.EncodeResponse]:
        async for request in requests:
            yield await self._frame(self._encode, request, context, pb.EncodeResponse)

    async def DecodeStream(
        self, requests: AsyncIterator[pb.DecodeRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.DecodeResponse]:
        async for request in requests:
            yield await self._frame(self._decode, request, context, pb.DecodeResponse)

    async def ListModels(
        self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListModelsResponse:
        try:
            self._registry.get("")  # UNAVAILABLE while models load
        except ServiceError as err:
            await context.abort(err.code, err.message)
        return pipeline.list_models(self._registry)

    async def _encode(self, request: pb.EncodeRequest, context: grpc.aio.ServicerContext) -> pb.EncodeResponse:
        job = pipeline.prepare_encode(self._registry.get(request.model), request, self._max_pixels)
        return await self._admission.run(partial(self._run_encode, job))

    async def _decode(self, request: pb.DecodeRequest, context: grpc.aio.ServicerContext) -> pb.DecodeResponse:
        job = pipeline.prepare_decode(self._registry, request, self._max_pixels)
        return await self._admission.run(partial(self._run_decode, job))

    # The _run_* methods run on a codec thread: metrics touch large byte fields, keep that off the loop.
    def _run_encode(self, job: pipeline.EncodeJob, cancelled: threading.Event) -> pb.EncodeResponse:
        response = pipeline.run_encode(job, cancelled)
        m = self._metrics
        m.bytes_in.labels("encode").inc(len(job.payload))
        m.bytes_out.labels("encode").inc(len(response.bitstream))
        m.bpp.labels(response.model, str(response.quality)).observe(response.stats.bpp)
        m.observe_stages("encode", response.stats.stage_ms)
        return response

    def _run_decode(self, job: pipeline.DecodeJob, cancelled: threading.Event) -> pb.DecodeResponse:
        response = pipeline.run_decode(job, cancelled)
        m = self._metrics
        m.bytes_in.labels("decode").inc(len(job.bitstream))
        m.bytes_out.labels("decode").inc(len(response.image))
        m.observe_stages("decode", response.stage_ms)
        return response

    async def _guarded(self, call: Call, request: Request, context: grpc.aio.ServicerContext) -> Response:
        """call(), with every failure turned into a ServiceError (bugs into INTERNAL, logged)."""
        try:
            return await call(request, context)
        except QueueFull:
            self._metrics.rejected.inc()
            raise
        except ServiceError:
            raise
        except Exception:
            log.exception("internal error")
            raise ServiceError(
                grpc.StatusCode.INTERNAL, f"internal error (request id {REQUEST_ID.get()})"
            ) from None

    async def _unary(self, call: Call, request: Request, context: grpc.aio.ServicerContext) -> Response:
        try:
            return await self._guarded(call, request, context)
        except ServiceError as err:
            await context.abort(err.code, err.message)

    async def _frame(
        self, call: Call, request: Request, context: grpc.aio.ServicerContext, response_type: type[Response]
    ) -> Response:
        try:
            return await self._guarded(call, request, context)
        except ServiceError as err:
            log.warning(
                "frame %d failed: %s", request.frame_id, err.message,
                extra={"code": err.code.name, "frame_id": request.frame_id},
            )
            error = pb.FrameError(code=err.code.value[0], message=err.message)
            return response_type(frame_id=request.frame_id, error=error)
