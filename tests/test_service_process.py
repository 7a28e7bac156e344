"""`python -m service` as a process (flags, structured logs, SIGTERM drain), the CLI client and the
load generator."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc

from conftest_service import codec_runtime, png_to_rgb, running_server, screenshots
from fake_runtime import FakeRuntime
from screen_codec import bitstream
from service import client
from service.config import parse_config
from service.api.screencodec.v1 import screencodec_pb2 as pb
from service.api.screencodec.v1 import screencodec_pb2_grpc as pb_grpc

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
SIDE = 1000  # 1 megapixel: the fake runtime below takes 1.5 s per encode of it


def _read_log_until(proc: subprocess.Popen, message: str, timeout: float = 30.0) -> list[dict]:
    """JSON log lines from the server's stderr up to and including the first with msg == message."""
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(json.loads(line))
        if lines[-1]["msg"] == message:
            return lines
    raise AssertionError(f"server never logged {message!r}: {lines}")


def _health(channel: grpc.Channel) -> int:
    return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2).status


def test_sigterm_drains_in_flight_requests_and_exits_0(tmp_path):
    (tmp_path / "fake_runtime.json").write_text(json.dumps({"seconds_per_megapixel": 1.5}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(TESTS)]), "SCREENCODEC_DRAIN_DELAY": "0.5"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "service", "--runtime", "fake_runtime:FakeRuntime", "--model-dir", str(tmp_path),
         "--host", "127.0.0.1", "--port", "0", "--metrics-port", "0", "--grace", "10", "--log-level", "DEBUG"],
        cwd=REPO, env=env, stderr=subprocess.PIPE, text=True,
    )
    try:
        logs = _read_log_until(proc, "serving")
        port = next(line["grpc_port"] for line in logs if line["msg"] == "listening")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            assert _health(channel) == health_pb2.HealthCheckResponse.SERVING
            raw = pb.RawImage(width=SIDE, height=SIDE, format=pb.PIXEL_FORMAT_RGB8, data=bytes(SIDE * SIDE * 3))
            in_flight = pb_grpc.ScreenCodecStub(channel).Encode.future(pb.EncodeRequest(raw=raw), timeout=20)
            time.sleep(0.3)  # let it reach the worker
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.1)
            assert _health(channel) == health_pb2.HealthCheckResponse.NOT_SERVING  # during the drain delay
            assert in_flight.result(20).stats.width == SIDE  # finished, not cut off
        assert proc.wait(20) == 0
        rest = [json.loads(line) for line in proc.stderr.read().splitlines()]
        rpc_lines = [line for line in rest if line["msg"].startswith("rpc ")]
        assert any(line["code"] == "OK" and line["method"].endswith("/Encode") and line["request_id"]
                   for line in rpc_lines)
        assert rest[-1]["msg"] == "stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_server_exits_1_when_models_fail_to_load(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "service", "--runtime", "no_such_module:Runtime", "--model-dir", str(tmp_path),
         "--port", "0", "--metrics-port", "0"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert "could not load the models" in result.stderr


def test_cli_client_remote_and_local(tmp_path, capsys):
    png_path = tmp_path / "screen.png"
    png_path.write_bytes(screenshots()["django_admin_actions"])
    with running_server([FakeRuntime()]) as srv:  # local mode below loads FakeRuntime too
        remote = ["--server", srv.address]
        assert client.main([*remote, "encode", str(png_path), str(tmp_path / "s.scic"), "--quality", "4"]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["quality"] == 4 and summary["width"] == 799
        assert client.main([*remote, "decode", str(tmp_path / "s.scic"), str(tmp_path / "out.png")]) == 0
        assert png_to_rgb((tmp_path / "out.png").read_bytes()).shape == (360, 799, 3)
        capsys.readouterr()
        assert client.main([*remote, "encode", str(tmp_path / "s.scic"), str(tmp_path / "x")]) == 1
        assert "INVALID_ARGUMENT" in capsys.readouterr().err

    # Local mode: no server, same pipeline; its stream decodes to the same pixels.
    local = ["--local", "--runtime", "fake_runtime:FakeRuntime", "--model-dir", str(tmp_path)]
    assert client.main([*local, "encode", str(png_path), str(tmp_path / "l.scic"), "--quality", "4"]) == 0
    assert (tmp_path / "l.scic").read_bytes() == (tmp_path / "s.scic").read_bytes()
    assert client.main([*local, "decode", str(tmp_path / "l.scic"), str(tmp_path / "l.rgb"), "--raw"]) == 0
    assert (tmp_path / "l.rgb").stat().st_size == 799 * 360 * 3


def test_loadgen_reports_like_ghz(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("loadgen", REPO / "bench" / "loadgen.py")
    loadgen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loadgen)
    image = tmp_path / "screen.png"
    image.write_bytes(screenshots()["python_docs_code"])
    with running_server([codec_runtime()]) as srv:
        args = ["--target", srv.address, "--image", str(image), "-n", "6", "-c", "2"]
        assert loadgen.main([*args, "--call", "Decode", "--json", str(tmp_path / "r.json")]) == 0
        assert loadgen.main([*args, "--call", "EncodeStream", "--stream-frames", "3", "--model", "nope"]) == 0
        decode_request = tmp_path / "decode.bin"
        assert loadgen.main([*args, "--call", "Decode", "--write-request", str(decode_request)]) == 0
        assert bitstream.unpack(pb.DecodeRequest.FromString(decode_request.read_bytes()).bitstream).width == 600
    out = capsys.readouterr().out
    assert "Requests/sec:" in out and "99 % in" in out and "[OK]\t6 responses" in out
    assert "[FRAME_NOT_FOUND]\t18 responses" in out  # 6 streams x 3 frames, each answered in-band
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["count"] == 6 and report["status_codes"] == {"OK": 6}
    assert 0 < report["latency_ms"]["p50"] <= report["latency_ms"]["p99"] and report["rps"] > 0

    request = tmp_path / "req.bin"
    assert loadgen.main(["--image", str(image), "--quality", "2", "--write-request", str(request)]) == 0
    assert pb.EncodeRequest.FromString(request.read_bytes()).quality == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["--tls-cert", "c.pem"],
        ["--max-concurrency", "0"],
        ["--rounding-threshold-bits", "0"],
        ["--rounding-threshold-bits", "nan"],
        ["--rounding-threshold-bits", "many"],
    ],
)
def test_bad_flags_are_refused(argv):
    with pytest.raises(SystemExit):
        parse_config(argv, environ={})


def test_flags_override_environment():
    env = {"SCREENCODEC_PORT": "6000", "SCREENCODEC_MAX_QUEUE": "3", "SCREENCODEC_AUTH_TOKEN": "t0k",
           "SCREENCODEC_ROUNDING_THRESHOLD_BITS": "inf"}
    config = parse_config(["--port", "7000", "--model-dir", f"a{os.pathsep}b"], environ=env)
    assert (config.port, config.max_queue, config.auth_tokens) == (7000, 3, ("t0k",))
    assert config.rounding_threshold_bits == float("inf")
    assert parse_config(["--rounding-threshold-bits", "12.5"], environ=env).rounding_threshold_bits == 12.5
    assert parse_config([], environ={}).rounding_threshold_bits is None  # the runtime's choice
    assert [p.name for p in config.model_dirs] == ["a", "b"]
    assert parse_config([], environ={}).max_message_bytes >= 64 << 20


@pytest.mark.parametrize("config", sorted((REPO / "deploy" / "ghz").glob("*.json")), ids=lambda p: p.name)
def test_ghz_configs_name_real_calls_and_valid_requests(config):
    """ghz cannot run here: check what it would read instead (call name, request data, files)."""
    settings = json.loads(config.read_text())
    service_name, method_name = settings["call"].rsplit(".", 1)
    method = pb.DESCRIPTOR.services_by_name[service_name.rpartition(".")[2]].methods_by_name[method_name]
    request_cls = {"EncodeRequest": pb.EncodeRequest, "DecodeRequest": pb.DecodeRequest}[method.input_type.name]
    if "proto" in settings:
        assert (REPO / settings["proto"]).is_file()
    if "data" in settings:  # ghz's JSON is protobuf's JSON mapping: bytes as base64, enums by name
        for message in settings["data"] if isinstance(settings["data"], list) else [settings["data"]]:
            json_format.ParseDict(message, request_cls())
    elif (REPO / settings["binary-file"]).exists():  # decode_request.bin is made per model, on demand
        assert request_cls.FromString((REPO / settings["binary-file"]).read_bytes()).ByteSize() > 0
