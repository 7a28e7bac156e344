"""The grpc.aio server: codec service, health, reflection, metrics endpoint, startup and drain.

Lifecycle: listen with health NOT_SERVING -> load + warm up models -> SERVING -> (SIGTERM)
NOT_SERVING, keep answering for drain_delay_s -> refuse new RPCs, give in-flight ones grace_s -> exit 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from service.admission import Admission
from service.api.screencodec.v1 import screencodec_pb2 as pb
from service.api.screencodec.v1 import screencodec_pb2_grpc as pb_grpc
from service.auth import BearerTokenInterceptor
from service.config import ServerConfig, TlsConfig
from service.handlers import ScreenCodecServicer
from service.interceptors import ObservingInterceptor, grpc_type
from service.metrics import Metrics
from service.models import ModelRegistry, RuntimeLoader, warm_up

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ScreenCodec"].full_name


def _credentials(tls: TlsConfig) -> grpc.ServerCredentials:
    client_ca = tls.client_ca_file.read_bytes() if tls.client_ca_file else None
    return grpc.ssl_server_credentials(
        [(tls.key_file.read_bytes(), tls.cert_file.read_bytes())],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


class CodecServer:
    def __init__(self, config: ServerConfig, load_runtimes: RuntimeLoader) -> None:
        self.config = config
        self._load_runtimes = load_runtimes
        self.metrics = Metrics()
        self.registry = ModelRegistry()
        self.admission = Admission(config.max_concurrency, config.max_queue)
        self.metrics.track_admission(lambda: self.admission.running, lambda: self.admission.queued)
        self.health = health.aio.HealthServicer()
        self.port = 0
        self.metrics_port = 0
        self._server: grpc.aio.Server | None = None
        self._stop_metrics_http = lambda: None

    async def start(self) -> None:
        """Listen and serve health (NOT_SERVING) and reflection; codec RPCs are UNAVAILABLE until
        load_models() finishes."""
        cfg = self.config
        interceptors: list[grpc.aio.ServerInterceptor] = [ObservingInterceptor(self.metrics)]
        if cfg.auth_tokens:
            interceptors.append(BearerTokenInterceptor(cfg.auth_tokens))
        server = grpc.aio.server(
            interceptors=interceptors,
            options=[
                ("grpc.max_receive_message_length", cfg.max_message_bytes),
                ("grpc.max_send_message_length", cfg.max_message_bytes),
                ("grpc.so_reuseport", 0),  # a second server on a busy port must fail, not share it
            ],
        )
        servicer = ScreenCodecServicer(self.registry, self.admission, self.metrics, cfg.max_pixels)
        pb_grpc.add_ScreenCodecServicer_to_server(servicer, server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        for method in pb.DESCRIPTOR.services_by_name["ScreenCodec"].methods:
            kind = grpc_type(method.client_streaming, method.server_streaming)
            self.metrics.init_rpc(kind, SERVICE_NAME, method.name)

        address = f"{cfg.host}:{cfg.port}"
        self.port = (
            server.add_secure_port(address, _credentials(cfg.tls)) if cfg.tls else server.add_insecure_port(address)
        )
        for name in ("", SERVICE_NAME):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await server.start()
        self._server = server
        self._stop_metrics_http, self.metrics_port = self.metrics.serve_http(cfg.metrics_host, cfg.metrics_port)
        log.info(
            "listening",
            extra={"grpc_port": self.port, "metrics_port": self.metrics_port, "tls": bool(cfg.tls),
                   "mtls": bool(cfg.tls and cfg.tls.client_ca_file), "auth": bool(cfg.auth_tokens)},
        )

    async def load_models(self) -> None:
        """Load and warm up the models (on a thread: the event loop keeps answering health checks)."""
        runtimes = await asyncio.get_running_loop().run_in_executor(None, self._load_and_warm)
        self.registry.install(runtimes)
        self.metrics.describe_models(runtimes)
        for name in ("", SERVICE_NAME):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("serving", extra={"models": [rt.name for rt in runtimes]})

    def _load_and_warm(self) -> list:
        runtimes = list(self._load_runtimes())
        for rt in runtimes:
            start = time.perf_counter()
            warm_up(rt)
            log.info(
                "model ready",
                extra={"model": rt.name, "model_id": rt.model_id, "providers": rt.providers,
                       "warmup_ms": round((time.perf_counter() - start) * 1e3, 1)},
            )
        return runtimes

    async def stop(self) -> None:
        """Drain and stop; in-flight requests get config.grace_s to finish."""
        await self.health.enter_graceful_shutdown()
        if self._server is not None:
            if self.config.drain_delay_s > 0:
                await asyncio.sleep(self.config.drain_delay_s)
            await self._server.stop(self.config.grace_s)
        # Runtime calls cannot be interrupted: wait for the ones still on worker threads.
        await asyncio.get_running_loop().run_in_executor(None, self.admission.shutdown)
        self._stop_metrics_http()


async def serve(config: ServerConfig, load_runtimes: RuntimeLoader) -> int:
    """Run until SIGTERM/SIGINT, then drain. Returns the process exit status."""
    server = CodecServer(config, load_runtimes)
    await server.start()
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_requested.set)

    loading = asyncio.ensure_future(server.load_models())
    stopping = asyncio.ensure_future(stop_requested.wait())
    await asyncio.wait({loading, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if loading.done() and loading.exception() is not None:
        log.error("could not load the models", exc_info=loading.exception())
        await server.stop()
        return 1
    await stopping
    log.info("draining", extra={"grace_s": config.grace_s, "drain_delay_s": config.drain_delay_s})
    await server.stop()
    log.info("stopped")
    return 0
