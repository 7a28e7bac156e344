"""Command-line client: encode/decode files through a server, or locally without one.

    python -m service.client encode screen.png screen.scic --quality 4      # server on localhost:50051
    python -m service.client --server host:50051 decode screen.scic out.png
    python -m service.client --local encode screen.png screen.scic          # no server: runs the model here
    python -m service.client models

Local mode builds the same requests and runs them through the same pipeline as the server
(service.pipeline), without admission control or the network.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import cv2
import grpc
import numpy as np
from google.protobuf import json_format

from service import pipeline
from service.api.screencodec.v1 import screencodec_pb2 as pb
from service.api.screencodec.v1 import screencodec_pb2_grpc as pb_grpc
from service.config import DEFAULT_MODEL_DIR, MIB, ServerConfig
from service.errors import ServiceError
from service.models import ModelRegistry, runtime_loader

MESSAGE_LIMIT = 256 * MIB  # the server's limit decides; the client should not be the narrower one


class RemoteCodec:
    """The three calls the CLI makes, over gRPC."""

    def __init__(
        self,
        target: str,
        *,
        tls_ca: Path | None = None,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        token: str | None = None,
        timeout: float | None = None,
    ) -> None:
        options = [
            ("grpc.max_send_message_length", MESSAGE_LIMIT),
            ("grpc.max_receive_message_length", MESSAGE_LIMIT),
        ]
        if tls_ca or tls_cert:
            creds = grpc.ssl_channel_credentials(
                root_certificates=tls_ca.read_bytes() if tls_ca else None,
                private_key=tls_key.read_bytes() if tls_key else None,
                certificate_chain=tls_cert.read_bytes() if tls_cert else None,
            )
            self._channel = grpc.secure_channel(target, creds, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._stub = pb_grpc.ScreenCodecStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else None
        self._timeout = timeout

    def encode(self, request: pb.EncodeRequest) -> pb.EncodeResponse:
        return self._stub.Encode(request, timeout=self._timeout, metadata=self._metadata)

    def decode(self, request: pb.DecodeRequest) -> pb.DecodeResponse:
        return self._stub.Decode(request, timeout=self._timeout, metadata=self._metadata)

    def list_models(self) -> pb.ListModelsResponse:
        return self._stub.ListModels(pb.ListModelsRequest(), timeout=self._timeout, metadata=self._metadata)


class LocalCodec:
    """The same three calls, run in this process on locally loaded models."""

    def __init__(self, config: ServerConfig) -> None:
        self._registry = ModelRegistry()
        self._registry.install(runtime_loader(config)())
        self._max_pixels = config.max_pixels

    def encode(self, request: pb.EncodeRequest) -> pb.EncodeResponse:
        job = pipeline.prepare_encode(self._registry.get(request.model), request, self._max_pixels)
        return pipeline.run_encode(job, threading.Event())

    def decode(self, request: pb.DecodeRequest) -> pb.DecodeResponse:
        job = pipeline.prepare_decode(self._registry, request, self._max_pixels)
        return pipeline.run_decode(job, threading.Event())

    def list_models(self) -> pb.ListModelsResponse:
        return pipeline.list_models(self._registry)


def read_mask(path: Path) -> pb.TextMask:
    """A grey or colour image file as a text mask: nonzero pixels mark text."""
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise SystemExit(f"cannot read mask image {path}")
    return pb.TextMask(width=mask.shape[1], height=mask.shape[0], data=(mask != 0).astype(np.uint8).tobytes())


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m service.client", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--server", default=os.environ.get("SCREENCODEC_SERVER", "localhost:50051"),
                       help="server address (env SCREENCODEC_SERVER)")
    where.add_argument("--local", action="store_true", help="run the model in this process, no server")
    p.add_argument("--tls-ca", type=Path, help="PEM CA that signed the server certificate (enables TLS)")
    p.add_argument("--tls-cert", type=Path, help="PEM client certificate (mTLS)")
    p.add_argument("--tls-key", type=Path, help="PEM client key (mTLS)")
    p.add_argument("--token-file", type=Path, help="bearer token file (or env SCREENCODEC_TOKEN)")
    p.add_argument("--timeout", type=float, default=60.0, help="deadline per call, seconds")
    p.add_argument("--runtime", default=ServerConfig.runtime, help="local mode: runtime class module:Class")
    p.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR, help="local mode: model directory")
    sub = p.add_subparsers(dest="command", required=True)

    enc = sub.add_parser("encode", help="image file (PNG/JPEG/PPM) -> bitstream file")
    enc.add_argument("input", type=Path)
    enc.add_argument("output", type=Path)
    enc.add_argument("--quality", type=int, default=0, help="1 (smallest) .. 5 (best); 0 = model default")
    enc.add_argument("--model", default="", help="model name (default: the server's default)")
    mask = enc.add_mutually_exclusive_group()
    mask.add_argument("--detector", help="text detector name, or 'none'")
    mask.add_argument("--mask", type=Path, help="text mask image, nonzero = text, same size as the input")

    dec = sub.add_parser("decode", help="bitstream file -> image file")
    dec.add_argument("input", type=Path)
    dec.add_argument("output", type=Path)
    dec.add_argument("--raw", action="store_true", help="write raw RGB8 bytes instead of PNG")
    dec.add_argument("--model", default="")

    sub.add_parser("models", help="list models, quality levels and execution providers")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.local:
        codec: RemoteCodec | LocalCodec = LocalCodec(ServerConfig(runtime=args.runtime, model_dirs=(args.model_dir,)))
    else:
        token = args.token_file.read_text().strip() if args.token_file else os.environ.get("SCREENCODEC_TOKEN")
        codec = RemoteCodec(args.server, tls_ca=args.tls_ca, tls_cert=args.tls_cert, tls_key=args.tls_key,
                            token=token, timeout=args.timeout)
    try:
        if args.command == "encode":
            request = pb.EncodeRequest(image=args.input.read_bytes(), quality=args.quality, model=args.model)
            if args.detector:
                request.detector = args.detector
            elif args.mask:
                request.mask.CopyFrom(read_mask(args.mask))
            response = codec.encode(request)
            args.output.write_bytes(response.bitstream)
            summary = {"model": response.model, "quality": response.quality,
                       "bytes": len(response.bitstream), **json_format.MessageToDict(response.stats)}
        elif args.command == "decode":
            fmt = pb.OUTPUT_FORMAT_RAW_RGB8 if args.raw else pb.OUTPUT_FORMAT_PNG
            response = codec.decode(pb.DecodeRequest(bitstream=args.input.read_bytes(), format=fmt, model=args.model))
            args.output.write_bytes(response.image)
            summary = {"width": response.width, "height": response.height, "format": pb.OutputFormat.Name(fmt),
                       "stage_ms": dict(response.stage_ms)}
        else:
            summary = json_format.MessageToDict(codec.list_models())
    except grpc.RpcError as err:
        print(f"error: {err.code().name}: {err.details()}", file=sys.stderr)
        return 1
    except ServiceError as err:
        print(f"error: {err.code.name}: {err.message}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
