"""The models a server runs: the runtime interface it relies on, loading, warm-up, lookup by name."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import grpc
import numpy as np

from service.config import ServerConfig
from service.errors import ServiceError


class Runtime(Protocol):
    """What the service needs of a codec runtime (service.runtime.CodecRuntime implements it).

    encode/decode are called from worker threads, several at once.
    """

    name: str
    model_id: str
    providers: list[str]
    qualities: list[Any]  # QualityLevel: index, lmbda, typical_bpp
    default_quality: int
    detectors: tuple[str, ...]

    def encode(self, rgb: np.ndarray, quality: int, text_mask: str | np.ndarray | None = None) -> Any: ...

    def decode(self, bitstream: bytes) -> Any: ...


RuntimeLoader = Callable[[], Sequence[Runtime]]


def runtime_loader(config: ServerConfig) -> RuntimeLoader:
    """Loader for config.model_dirs with the runtime class named by config.runtime ("module:Class")."""
    module_name, _, attr = config.runtime.partition(":")

    def load() -> list[Runtime]:
        runtime_cls = getattr(importlib.import_module(module_name), attr)
        options = {"entropy_threads": config.entropy_threads}
        if config.rounding_threshold_bits is not None:
            options["rounding_threshold_bits"] = config.rounding_threshold_bits
        return [
            runtime_cls.load(Path(d), list(config.providers) or None, config.intra_op_threads, **options)
            for d in config.model_dirs
        ]

    return load


def warm_up(runtime: Runtime) -> None:
    """Run every quality level once so lazy initialisation (sessions, kernels, arenas) happens
    before the first client request rather than inside it."""
    frame = np.zeros((64, 64, 3), np.uint8)
    frame[16:48, 16:48] = 255
    for level in runtime.qualities:
        runtime.decode(runtime.encode(frame, level.index).bitstream)


class ModelRegistry:
    """Runtimes by name; the first one installed is the default. Empty until models are loaded."""

    def __init__(self) -> None:
        self._runtimes: dict[str, Runtime] = {}

    def install(self, runtimes: Sequence[Runtime]) -> None:
        if not runtimes:
            raise ValueError("no models to serve")
        self._runtimes = {rt.name: rt for rt in runtimes}

    @property
    def default_name(self) -> str:
        return next(iter(self._runtimes), "")

    def __iter__(self) -> Iterator[Runtime]:
        return iter(self._runtimes.values())

    def for_stream(self, name: str, model_id: bytes) -> Runtime:
        """The named model, or without a name the one whose id the stream's header carries (the
        default when none does: decoding then fails as a foreign stream)."""
        if not name:
            for runtime in self._runtimes.values():
                if runtime.model_id == model_id.hex():
                    return runtime
        return self.get(name)

    def get(self, name: str) -> Runtime:
        if not self._runtimes:
            raise ServiceError(grpc.StatusCode.UNAVAILABLE, "server is still loading its models")
        runtime = self._runtimes.get(name or self.default_name)
        if runtime is None:
            raise ServiceError(
                grpc.StatusCode.NOT_FOUND,
                f"unknown model {name!r}; this server runs {', '.join(self._runtimes)}",
            )
        return runtime
