"""Optional bearer-token auth: `authorization: Bearer <token>` metadata, else UNAUTHENTICATED."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc

from service.interceptors import rewrap, split_method

# Health checks come from load balancers and orchestrators that carry no token.
EXEMPT_SERVICES = frozenset({"grpc.health.v1.Health"})


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, tokens: Sequence[str]) -> None:
        self._tokens = [t.encode() for t in tokens]

    def _authorized(self, metadata: tuple | None) -> bool:
        for key, value in metadata or ():
            if key == "authorization" and isinstance(value, str) and value.startswith("Bearer "):
                presented = value[len("Bearer ") :].strip().encode()
                # compare_digest against every token: timing reveals neither which nor how much matched
                return any([hmac.compare_digest(presented, t) for t in self._tokens])
        return False

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(details)
        if handler is None or split_method(details.method)[0] in EXEMPT_SERVICES:
            return handler
        if self._authorized(details.invocation_metadata):
            return handler
        return rewrap(handler, lambda _behavior: _deny)


async def _deny(_request: Any, context: grpc.aio.ServicerContext) -> None:
    # A coroutine serves all four RPC kinds: streaming responses may also be written via context.
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or invalid bearer token")
