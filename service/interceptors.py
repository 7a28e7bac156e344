"""Per-RPC observation: request id, go-grpc-prometheus metrics, one log line per RPC.

Also `rewrap`, the one place that knows how to replace the behaviour inside a grpc method handler
(the auth interceptor uses it too).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from service.logs import REQUEST_ID
from service.metrics import Metrics

log = logging.getLogger("service.rpc")

Behavior = Callable[..., Any]
_KINDS = {
    (False, False): ("unary", "unary_unary"),
    (True, False): ("client_stream", "stream_unary"),
    (False, True): ("server_stream", "unary_stream"),
    (True, True): ("bidi_stream", "stream_stream"),
}
# Server-side faults are errors; everything else non-OK is the client's problem (warning).
_SERVER_FAULTS = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNIMPLEMENTED}
_REQUEST_ID_RE = re.compile(r"^[\w.:-]{1,64}$")


def grpc_type(request_streaming: bool, response_streaming: bool) -> str:
    """go-grpc-prometheus grpc_type label: unary, client_stream, server_stream or bidi_stream."""
    return _KINDS[request_streaming, response_streaming][0]


def rewrap(handler: grpc.RpcMethodHandler, wrap: Callable[[Behavior], Behavior]) -> grpc.RpcMethodHandler:
    """The same handler with its behaviour replaced by wrap(behaviour)."""
    attr = _KINDS[handler.request_streaming, handler.response_streaming][1]
    return handler._replace(**{attr: wrap(getattr(handler, attr))})


def split_method(full_method: str) -> tuple[str, str]:
    """'/pkg.Service/Method' -> ('pkg.Service', 'Method')."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    return service, method


def _request_id(metadata: tuple | None) -> str:
    for key, value in metadata or ():
        if key == "x-request-id" and isinstance(value, str) and _REQUEST_ID_RE.match(value):
            return value
    return uuid.uuid4().hex[:16]


class ObservingInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(details)
        if handler is None:  # unknown method: grpc answers UNIMPLEMENTED itself
            return None
        labels = (grpc_type(handler.request_streaming, handler.response_streaming), *split_method(details.method))
        request_id = _request_id(details.invocation_metadata)
        return rewrap(handler, lambda behavior: self._observed(behavior, labels, request_id))

    def _observed(self, behavior: Behavior, labels: tuple[str, str, str], request_id: str) -> Behavior:
        m = self._metrics

        def count_requests(request_or_iterator: Any) -> Any:
            if labels[0] in ("unary", "server_stream"):
                m.msg_received.labels(*labels).inc()
                return request_or_iterator
            return _counted(request_or_iterator, m.msg_received.labels(*labels).inc)

        def begin(context: grpc.aio.ServicerContext) -> float:
            REQUEST_ID.set(request_id)  # this task's context: handler logs carry the id
            context.set_trailing_metadata((("x-request-id", request_id),))
            m.started.labels(*labels).inc()
            return time.perf_counter()

        def end(context: grpc.aio.ServicerContext, start: float, code: grpc.StatusCode) -> None:
            elapsed = time.perf_counter() - start
            m.handled.labels(*labels, code.name).inc()
            m.handling_seconds.labels(*labels).observe(elapsed)
            _log_rpc(labels, code, elapsed, context)

        if inspect.isasyncgenfunction(behavior):

            async def observed_stream(
                request_or_iterator: Any, context: grpc.aio.ServicerContext
            ) -> AsyncIterator[Any]:
                start = begin(context)
                code = grpc.StatusCode.UNKNOWN
                try:
                    async for response in behavior(count_requests(request_or_iterator), context):
                        m.msg_sent.labels(*labels).inc()
                        yield response
                    code = _final_code(context)
                except BaseException as exc:
                    code = _failure_code(context, exc)
                    raise
                finally:
                    end(context, start, code)

            return observed_stream

        async def observed(request_or_iterator: Any, context: grpc.aio.ServicerContext) -> Any:
            start = begin(context)
            code = grpc.StatusCode.UNKNOWN
            try:
                response = await behavior(count_requests(request_or_iterator), context)
                if labels[0] in ("unary", "client_stream"):
                    m.msg_sent.labels(*labels).inc()
                code = _final_code(context)
                return response
            except BaseException as exc:
                code = _failure_code(context, exc)
                raise
            finally:
                end(context, start, code)

        return observed


async def _counted(iterator: AsyncIterator[Any], inc: Callable[[], None]) -> AsyncIterator[Any]:
    async for item in iterator:
        inc()
        yield item


def _final_code(context: grpc.aio.ServicerContext) -> grpc.StatusCode:
    return context.code() or grpc.StatusCode.OK


def _failure_code(context: grpc.aio.ServicerContext, exc: BaseException) -> grpc.StatusCode:
    if isinstance(exc, asyncio.CancelledError):
        # grpc cancels the handler both when the client cancels and when the deadline passes.
        remaining = context.time_remaining()
        expired = remaining is not None and remaining <= 0
        return grpc.StatusCode.DEADLINE_EXCEEDED if expired else grpc.StatusCode.CANCELLED
    return context.code() or grpc.StatusCode.UNKNOWN  # abort() sets the code; a crash is UNKNOWN


def _log_rpc(
    labels: tuple[str, str, str], code: grpc.StatusCode, elapsed: float, context: grpc.aio.ServicerContext
) -> None:
    if code in (grpc.StatusCode.OK, grpc.StatusCode.CANCELLED):  # a client hanging up is routine
        level = logging.DEBUG
    elif code in _SERVER_FAULTS:
        level = logging.ERROR
    else:
        level = logging.WARNING
    if log.isEnabledFor(level):
        log.log(
            level,
            "rpc %s/%s %s",
            labels[1],
            labels[2],
            code.name,
            extra={"method": f"{labels[1]}/{labels[2]}", "code": code.name, "ms": round(elapsed * 1e3, 2),
                   "peer": context.peer(), "details": context.details() or ""},
        )
