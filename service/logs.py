"""Structured logs: one JSON object per line, carrying the id of the request being served."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time

# Set per RPC by the observing interceptor; asyncio copies it into the handler's task.
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id:
            entry["request_id"] = request_id
        # Fields passed with `extra=` become top-level keys.
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str) -> None:
    """`level` applies to this service's loggers; libraries (grpc, asyncio) stay at INFO or above,
    their DEBUG output is noise to an operator."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    numeric = logging.getLevelName(level.upper())
    root.setLevel(max(numeric, logging.INFO))
    logging.getLogger("service").setLevel(numeric)
