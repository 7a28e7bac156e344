"""Failures that end a request with a definite gRPC status, and the bitstream-error mapping."""

from __future__ import annotations

import grpc

from screen_codec.bitstream import (
    BitstreamError,
    CorruptBitstreamError,
    TruncatedBitstreamError,
)


class ServiceError(Exception):
    """A request failed with a status the client should see (code + human-readable message)."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class InvalidArgument(ServiceError):
    def __init__(self, message: str) -> None:
        super().__init__(grpc.StatusCode.INVALID_ARGUMENT, message)


def bitstream_error(err: BitstreamError) -> ServiceError:
    """Truncated or corrupt bytes lost data on the way (DATA_LOSS); a foreign model, an unknown
    version or non-bitstream bytes are the wrong input (INVALID_ARGUMENT)."""
    if isinstance(err, (TruncatedBitstreamError, CorruptBitstreamError)):
        return ServiceError(grpc.StatusCode.DATA_LOSS, str(err))
    return InvalidArgument(str(err))
