"""Prometheus metrics: gRPC server metrics under go-grpc-prometheus names, plus codec metrics.

Each server owns a registry (tests run several servers in one process); /metrics is plain HTTP on
its own port.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, start_http_server

from service.models import Runtime

# go-grpc-prometheus's handling-time buckets stop at 10 s; ours start at 1 ms for small frames.
HANDLING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STAGE_BUCKETS = (0.0005, *HANDLING_BUCKETS)
BPP_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 24.0)
_RPC_LABELS = ("grpc_type", "grpc_service", "grpc_method")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.started = Counter(
            "grpc_server_started_total", "RPCs started on the server.", _RPC_LABELS, registry=r
        )
        self.handled = Counter(
            "grpc_server_handled_total",
            "RPCs completed on the server, regardless of success or failure.",
            (*_RPC_LABELS, "grpc_code"),
            registry=r,
        )
        self.msg_received = Counter(
            "grpc_server_msg_received_total", "Stream messages received on the server.", _RPC_LABELS, registry=r
        )
        self.msg_sent = Counter(
            "grpc_server_msg_sent_total", "Stream messages sent by the server.", _RPC_LABELS, registry=r
        )
        self.handling_seconds = Histogram(
            "grpc_server_handling_seconds",
            "Response latency of RPCs handled by the server.",
            _RPC_LABELS,
            buckets=HANDLING_BUCKETS,
            registry=r,
        )
        self.stage_seconds = Histogram(
            "screencodec_stage_seconds",
            "Time per codec stage (direction = encode|decode).",
            ("direction", "stage"),
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.inflight = Gauge("screencodec_inflight_requests", "Requests running codec work.", registry=r)
        self.queued = Gauge("screencodec_queued_requests", "Requests waiting for a codec worker.", registry=r)
        self.rejected = Counter(
            "screencodec_rejected_total", "Requests refused because the queue was full.", registry=r
        )
        self.bytes_in = Counter(
            "screencodec_bytes_in_total",
            "Payload bytes (images, bitstreams) of requests processed.",
            ("direction",),
            registry=r,
        )
        self.bytes_out = Counter(
            "screencodec_bytes_out_total",
            "Payload bytes (bitstreams, images) of responses produced.",
            ("direction",),
            registry=r,
        )
        self.bpp = Histogram(
            "screencodec_bits_per_pixel",
            "Bits per pixel of encoded frames.",
            ("model", "quality"),
            buckets=BPP_BUCKETS,
            registry=r,
        )
        self.model = Info("screencodec_model", "Models served.", ("model",), registry=r)
        self.provider = Info(
            "screencodec_execution_provider",
            "Active ONNX Runtime execution provider per model.",
            ("model",),
            registry=r,
        )

    def track_admission(self, running: Callable[[], int], queued: Callable[[], int]) -> None:
        # Read at scrape time: the gauges can never drift from the admission state.
        self.inflight.set_function(running)
        self.queued.set_function(queued)

    def init_rpc(self, grpc_type: str, service: str, method: str) -> None:
        """Make a method's series exist at zero before its first call (as go-grpc-prometheus does)."""
        self.started.labels(grpc_type, service, method)
        self.handling_seconds.labels(grpc_type, service, method)

    def describe_models(self, runtimes: list[Runtime]) -> None:
        for rt in runtimes:
            self.model.labels(rt.name).info(
                {
                    "model_id": rt.model_id,
                    "qualities": ",".join(str(q.index) for q in rt.qualities),
                    "default_quality": str(rt.default_quality),
                    "detectors": ",".join(rt.detectors),
                }
            )
            self.provider.labels(rt.name).info(
                {"provider": rt.providers[0] if rt.providers else "", "providers": ",".join(rt.providers)}
            )

    def observe_stages(self, direction: str, stage_ms: Mapping[str, float]) -> None:
        for stage, ms in stage_ms.items():
            if stage != "total":  # the whole RPC is grpc_server_handling_seconds
                self.stage_seconds.labels(direction, stage).observe(ms / 1e3)

    def serve_http(self, host: str, port: int) -> tuple[Callable[[], None], int]:
        """Start /metrics; returns (stop, bound port)."""
        httpd, thread = start_http_server(port, host, registry=self.registry)

        def stop() -> None:
            httpd.shutdown()
            httpd.server_close()
            thread.join()

        return stop, httpd.server_port
