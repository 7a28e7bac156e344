"""Harness for the service tests: a real grpc.aio server on 127.0.0.1 around given runtimes.

`codec_runtime()` is the one place that decides which codec the end-to-end tests serve: the real
ONNX Runtime codec on the bundled default model. Tests of service mechanics (queue, deadlines,
drain, TLS, message limits) use the stand-in from tests/fake_runtime.py, whose timing they control.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import grpc
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from screen_codec.metrics import psnr
from service.api.screencodec.v1 import screencodec_pb2_grpc as pb_grpc
from service.config import ServerConfig
from service.models import Runtime
from service.runtime import CodecRuntime
from service.server import CodecServer

SCREENS_DIR = Path(__file__).parent / "test_service_screens"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "default"
CLIENT_MESSAGE_LIMIT = 256 << 20  # above any server limit: the server's limit is what gets tested


@functools.lru_cache(maxsize=1)
def codec_runtime() -> Runtime:
    """The bundled default model in the real runtime (loaded once: sessions are thread-safe)."""
    return CodecRuntime.load(DEFAULT_MODEL_DIR, intra_op_threads=2)


def screenshots() -> dict[str, bytes]:
    """Real screenshots (PNG files) by name; see test_service_screens/SOURCES.md."""
    return {p.stem: p.read_bytes() for p in sorted(SCREENS_DIR.glob("*.png"))}


def png_to_rgb(data: bytes) -> np.ndarray:
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def assert_faithful(reference: np.ndarray, decoded: np.ndarray, margin_db: float = 0.5) -> None:
    """The decoded image is the input, coded: it beats the best flat image (the input's mean colour).
    A quality floor in dB is a property of the trained model (bench/rd.py), not of the service; this
    catches garbage (a desynchronised rANS stream decodes to noise, far below flat), blank and
    shifted outputs. The margin is small because the bundled model is only briefly CPU-trained:
    on the two test screenshots it measured 1.7-2.5 dB above flat at quality 5 (step 600)."""
    flat = np.broadcast_to(reference.reshape(-1, 3).mean(axis=0).round(), reference.shape).astype(np.uint8)
    assert psnr(reference, decoded) > psnr(reference, flat) + margin_db


@dataclass
class RunningServer:
    server: CodecServer
    loop: asyncio.AbstractEventLoop

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def channel(self) -> grpc.Channel:
        return grpc.insecure_channel(
            self.address,
            options=[
                ("grpc.max_send_message_length", CLIENT_MESSAGE_LIMIT),
                ("grpc.max_receive_message_length", CLIENT_MESSAGE_LIMIT),
            ],
        )

    def stub(self, channel: grpc.Channel) -> pb_grpc.ScreenCodecStub:
        return pb_grpc.ScreenCodecStub(channel)

    def run(self, coro, timeout: float = 30.0):
        """Run a coroutine on the server's event loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Samples of /metrics parsed by prometheus_client's parser: {(name, sorted labels): value}."""
        url = f"http://127.0.0.1:{self.server.metrics_port}/metrics"
        text = urllib.request.urlopen(url, timeout=5).read().decode()
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }


@contextmanager
def running_server(
    runtimes: Sequence[Runtime], *, load_models: bool = True, **overrides: object
) -> Iterator[RunningServer]:
    """A started server (models loaded unless load_models=False); stopped on exit."""
    config = replace(ServerConfig(host="127.0.0.1", port=0, metrics_host="127.0.0.1", metrics_port=0,
                                  grace_s=1.0), **overrides)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="test-server-loop", daemon=True)
    thread.start()
    running = RunningServer(CodecServer(config, lambda: list(runtimes)), loop)
    try:
        running.run(running.server.start())
        if load_models:
            running.run(running.server.load_models())
        yield running
    finally:
        running.run(running.server.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
