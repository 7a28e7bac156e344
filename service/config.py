"""Server settings: command-line flags, each with an environment variable and a working default.

Precedence: flag > environment variable (SCREENCODEC_<FLAG>) > default.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL_DIR = REPO_ROOT / "models" / "default"
# Served unless --model-dir says otherwise: the default (best quality) and, when bundled, `lite`
# (the CPU-speed tier, docs/RUNTIME.md); a request picks one by name, a decode by the stream's id.
LITE_MODEL_DIR = REPO_ROOT / "models" / "lite"
BUNDLED_MODEL_DIRS = (DEFAULT_MODEL_DIR, LITE_MODEL_DIR) if LITE_MODEL_DIR.is_dir() else (DEFAULT_MODEL_DIR,)
MIB = 1 << 20


@dataclass(frozen=True)
class TlsConfig:
    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None  # set = mutual TLS: clients must present a cert it signed


@dataclass(frozen=True)
class ServerConfig:
    host: str = "0.0.0.0"
    port: int = 50051  # 0 = any free port
    metrics_host: str = "0.0.0.0"
    metrics_port: int = 9090  # 0 = any free port
    runtime: str = "service.runtime:CodecRuntime"  # "module:Class" with a classmethod load()
    model_dirs: tuple[Path, ...] = BUNDLED_MODEL_DIRS  # the first is the default model
    providers: tuple[str, ...] = ()  # ONNX Runtime providers in priority order; () = runtime's choice
    intra_op_threads: int = 0  # 0 = runtime's choice
    entropy_threads: int = 1  # BLAS threads of the integer entropy path, per request
    rounding_threshold_bits: float | None = None  # encoder's rate-aware rounding; None = runtime's choice
    max_concurrency: int = 2  # requests running codec work at once (= worker threads)
    max_queue: int = 16  # requests waiting for a worker; beyond that RESOURCE_EXHAUSTED
    max_message_bytes: int = 64 * MIB  # both directions
    max_pixels: int = 8192 * 8192
    grace_s: float = 25.0  # SIGTERM: time in-flight requests get to finish
    drain_delay_s: float = 0.0  # SIGTERM: NOT_SERVING but still answering, for load balancers to notice
    tls: TlsConfig | None = None
    auth_tokens: tuple[str, ...] = ()  # accepted bearer tokens; () = no auth
    log_level: str = "INFO"


def _env_default(environ: Mapping[str, str], flag: str, default: object) -> object:
    return environ.get("SCREENCODEC_" + flag.upper().replace("-", "_"), default)


def _bits_or_unset(text: str) -> float | None:
    return float(text) if text else None


def _build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    d = ServerConfig()
    p = argparse.ArgumentParser(
        prog="python -m service",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="screencodec gRPC server. Every flag can also be set by the environment "
        "variable SCREENCODEC_<FLAG> (upper case, '-' -> '_').",
    )

    def opt(flag: str, default: object, help: str, type=str) -> None:
        p.add_argument("--" + flag, type=type, default=_env_default(environ, flag, default), help=help)

    opt("host", d.host, "gRPC listen address")
    opt("port", d.port, "gRPC port (0 = any free port)", int)
    opt("metrics-host", d.metrics_host, "Prometheus /metrics listen address")
    opt("metrics-port", d.metrics_port, "Prometheus /metrics port (0 = any free port)", int)
    opt("runtime", d.runtime, "codec runtime class as module:Class")
    opt("model-dir", os.pathsep.join(map(str, d.model_dirs)),
        f"model directories separated by '{os.pathsep}'; the first is the default model")
    opt("providers", "", "ONNX Runtime execution providers in priority order, comma-separated, "
        "e.g. CUDAExecutionProvider,CPUExecutionProvider (empty = runtime's choice)")
    opt("intra-op-threads", d.intra_op_threads, "threads per inference (0 = runtime's choice)", int)
    opt("entropy-threads", d.entropy_threads, "BLAS threads of the entropy-parameter path (process-wide)", int)
    opt("rounding-threshold-bits", "", "encoder's rate-aware rounding: a latent symbol steps toward its "
        "mean where that saves more bits than this (inf = nearest integers; empty = runtime's choice)",
        _bits_or_unset)
    opt("max-concurrency", d.max_concurrency, "requests running codec work at once", int)
    opt("max-queue", d.max_queue, "requests waiting for a worker before RESOURCE_EXHAUSTED", int)
    opt("max-message-mib", d.max_message_bytes // MIB, "max gRPC message size, both directions", int)
    opt("max-pixels", d.max_pixels, "max width*height of an image or bitstream", int)
    opt("grace", d.grace_s, "seconds in-flight requests get to finish after SIGTERM", float)
    opt("drain-delay", d.drain_delay_s,
        "seconds between SIGTERM and closing the port, reporting NOT_SERVING meanwhile", float)
    opt("tls-cert", "", "PEM server certificate (with --tls-key: serve TLS)")
    opt("tls-key", "", "PEM server private key")
    opt("tls-client-ca", "", "PEM CA bundle; set = require client certificates (mTLS)")
    opt("auth-token-file", "", "file of accepted bearer tokens, one per line "
        "(or SCREENCODEC_AUTH_TOKEN=token); unset = no auth")
    opt("log-level", d.log_level, "DEBUG logs one line per request; errors are always logged")
    return p


def parse_config(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> ServerConfig:
    parser = _build_parser(environ)
    a = parser.parse_args(argv)
    if bool(a.tls_cert) != bool(a.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if a.tls_client_ca and not a.tls_cert:
        parser.error("--tls-client-ca needs --tls-cert and --tls-key")
    if a.max_concurrency < 1 or a.max_queue < 0:
        parser.error("--max-concurrency must be >= 1 and --max-queue >= 0")
    rounding = a.rounding_threshold_bits
    if rounding is not None and not rounding > 0:
        parser.error("--rounding-threshold-bits must be a positive number of bits or inf")
    tokens = [environ["SCREENCODEC_AUTH_TOKEN"]] if environ.get("SCREENCODEC_AUTH_TOKEN") else []
    if a.auth_token_file:
        tokens += Path(a.auth_token_file).read_text().split()
    tls = None
    if a.tls_cert:
        tls = TlsConfig(Path(a.tls_cert), Path(a.tls_key), Path(a.tls_client_ca) if a.tls_client_ca else None)
    return ServerConfig(
        host=a.host,
        port=a.port,
        metrics_host=a.metrics_host,
        metrics_port=a.metrics_port,
        runtime=a.runtime,
        model_dirs=tuple(Path(x) for x in a.model_dir.split(os.pathsep) if x),
        providers=tuple(x.strip() for x in a.providers.split(",") if x.strip()),
        intra_op_threads=a.intra_op_threads,
        entropy_threads=a.entropy_threads,
        rounding_threshold_bits=rounding,
        max_concurrency=a.max_concurrency,
        max_queue=a.max_queue,
        max_message_bytes=a.max_message_mib * MIB,
        max_pixels=a.max_pixels,
        grace_s=a.grace,
        drain_delay_s=a.drain_delay,
        tls=tls,
        auth_tokens=tuple(tokens),
        log_level=a.log_level,
    )
