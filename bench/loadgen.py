"""Load generator for the screencodec gRPC server, with a ghz-like summary (ghz is not installable here).

    python bench/loadgen.py --target 127.0.0.1:50051 --call Encode --image shot.png -n 200 -c 4
    python bench/loadgen.py --call Decode --image shot.png -z 30 -c 8 --json out.json
    python bench/loadgen.py --call EncodeStream --stream-frames 30 --image shot.png -n 20 -c 2
    python bench/loadgen.py --image shot.png --write-request deploy/ghz/encode_request.bin  # for ghz -B
    python bench/loadgen.py --call Decode --image shot.png --write-request decode_request.bin  # asks the server

Each call's latency and final status code are recorded; a stream counts as one call (as in ghz),
with its frames' errors folded into the status distribution as FRAME_<CODE>.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import grpc
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from service.api.screencodec.v1 import screencodec_pb2 as pb  # noqa: E402
from service.api.screencodec.v1 import screencodec_pb2_grpc as pb_grpc  # noqa: E402

PERCENTILES = (10, 25, 50, 75, 90, 95, 99)
MESSAGE_LIMIT = 256 << 20


def _channel(args: argparse.Namespace) -> grpc.aio.Channel:
    options = [("grpc.max_send_message_length", MESSAGE_LIMIT), ("grpc.max_receive_message_length", MESSAGE_LIMIT)]
    if args.cacert:
        creds = grpc.ssl_channel_credentials(
            root_certificates=args.cacert.read_bytes(),
            private_key=args.key.read_bytes() if args.key else None,
            certificate_chain=args.cert.read_bytes() if args.cert else None,
        )
        return grpc.aio.secure_channel(args.target, creds, options=options)
    return grpc.aio.insecure_channel(args.target, options=options)


async def _request_for(
    args: argparse.Namespace, stub: pb_grpc.ScreenCodecStub, metadata: tuple | None
) -> pb.EncodeRequest | pb.DecodeRequest:
    """The request every call sends; for Decode, one untimed Encode makes the bitstream."""
    request = pb.EncodeRequest(image=args.image.read_bytes(), quality=args.quality, model=args.model)
    if args.call == "Decode":
        encoded = await stub.Encode(request, timeout=args.timeout, metadata=metadata)
        return pb.DecodeRequest(bitstream=encoded.bitstream, model=args.model)
    return request


async def _one_call(stub: pb_grpc.ScreenCodecStub, args: argparse.Namespace, request, metadata) -> list[str]:
    """Make one call; return the status code names it produced (the call's, plus failed frames')."""
    try:
        if args.call == "Encode":
            await stub.Encode(request, timeout=args.timeout, metadata=metadata)
        elif args.call == "Decode":
            await stub.Decode(request, timeout=args.timeout, metadata=metadata)
        else:
            frames = [pb.EncodeRequest(image=request.image, quality=request.quality, model=request.model, frame_id=i)
                      for i in range(args.stream_frames)]
            call = stub.EncodeStream(iter(frames), timeout=args.timeout, metadata=metadata)
            frame_errors = [f"FRAME_{_code_name(r.error.code)}" async for r in call if r.HasField("error")]
            return ["OK", *frame_errors]
        return ["OK"]
    except grpc.aio.AioRpcError as err:
        return [err.code().name]


def _code_name(number: int) -> str:
    return next(c.name for c in grpc.StatusCode if c.value[0] == number)


async def run(args: argparse.Namespace) -> dict | None:
    """Run the load test and return its report (None when only writing the request file)."""
    metadata = (("authorization", f"Bearer {args.token}"),) if args.token else None
    async with _channel(args) as channel:
        stub = pb_grpc.ScreenCodecStub(channel)
        request = await _request_for(args, stub, metadata)
        if args.write_request:
            args.write_request.write_bytes(request.SerializeToString())
            return None

        latencies: list[float] = []
        codes: collections.Counter[str] = collections.Counter()
        issued = 0
        start = time.perf_counter()
        stop_at = start + args.duration if args.duration else None

        def take_ticket() -> int | None:
            nonlocal issued
            if (stop_at is None and issued >= args.total) or (stop_at is not None and time.perf_counter() >= stop_at):
                return None
            issued += 1
            return issued - 1

        async def worker() -> None:
            while (ticket := take_ticket()) is not None:
                if args.rps:  # constant total rate: call i starts no earlier than i / rps
                    await asyncio.sleep(max(0.0, start + ticket / args.rps - time.perf_counter()))
                t0 = time.perf_counter()
                call_codes = await _one_call(stub, args, request, metadata)
                latencies.append(time.perf_counter() - t0)
                codes.update(call_codes)

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        total = time.perf_counter() - start
    return _report(args, latencies, codes, total)


def _report(args: argparse.Namespace, latencies: list[float], codes: collections.Counter, total: float) -> dict:
    ms = np.asarray(latencies) * 1e3
    return {
        "call": args.call,
        "target": args.target,
        "concurrency": args.concurrency,
        "count": len(latencies),
        "total_s": total,
        "rps": len(latencies) / total if total else 0.0,
        "latency_ms": {
            "fastest": float(ms.min()) if ms.size else None,
            "slowest": float(ms.max()) if ms.size else None,
            "average": float(ms.mean()) if ms.size else None,
            **{f"p{p}": float(np.percentile(ms, p)) if ms.size else None for p in PERCENTILES},
        },
        "status_codes": dict(codes.most_common()),
    }


def format_summary(report: dict) -> str:
    lat = report["latency_ms"]

    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f} ms"

    lines = [
        "Summary:",
        f"  Count:\t{report['count']}",
        f"  Total:\t{report['total_s'] * 1e3:.2f} ms",
        f"  Slowest:\t{fmt(lat['slowest'])}",
        f"  Fastest:\t{fmt(lat['fastest'])}",
        f"  Average:\t{fmt(lat['average'])}",
        f"  Requests/sec:\t{report['rps']:.2f}",
        "",
        "Latency distribution:",
        *(f"  {p} % in {fmt(lat[f'p{p}'])}" for p in PERCENTILES),
        "",
        "Status code distribution:",
        *(f"  [{code}]\t{n} responses" for code, n in report["status_codes"].items()),
    ]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", default="127.0.0.1:50051")
    p.add_argument("--call", choices=("Encode", "Decode", "EncodeStream"), default="Encode")
    p.add_argument("--image", type=Path, required=True, help="PNG/JPEG/PPM file sent in every request")
    p.add_argument("--quality", type=int, default=0)
    p.add_argument("--model", default="")
    p.add_argument("-n", "--total", type=int, default=200, help="number of calls (ignored with -z)")
    p.add_argument("-c", "--concurrency", type=int, default=4, help="calls in flight at once")
    p.add_argument("-z", "--duration", type=float, default=0.0, help="run for this many seconds instead of -n")
    p.add_argument("-r", "--rps", type=float, default=0.0, help="total calls per second (0 = as fast as possible)")
    p.add_argument("-t", "--timeout", type=float, default=20.0, help="deadline per call, seconds")
    p.add_argument("--stream-frames", type=int, default=10, help="EncodeStream: frames per stream")
    p.add_argument("--cacert", type=Path, help="PEM CA of the server certificate (enables TLS)")
    p.add_argument("--cert", type=Path, help="PEM client certificate (mTLS)")
    p.add_argument("--key", type=Path, help="PEM client key (mTLS)")
    p.add_argument("--token", help="bearer token")
    p.add_argument("--json", type=Path, help="also write the report as JSON here")
    p.add_argument("--write-request", type=Path,
                   help="write the serialized request of --call (ghz -B) and exit; Decode asks the server")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    report = asyncio.run(run(args))
    if report is None:
        return 0
    print(format_summary(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
