"""The ScreenCodec API over a real server on 127.0.0.1: health, reflection, round trips, streams,
bad input, message limits, metrics."""

from __future__ import annotations

import cv2
import grpc
import numpy as np
import pytest
from google.protobuf import descriptor_pool, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from conftest_service import assert_faithful, codec_runtime, png_to_rgb, running_server, screenshots
from fake_runtime import FakeRuntime
from screen_codec import bitstream
from screen_codec.metrics import psnr
from service.api.screencodec.v1 import screencodec_pb2 as pb

SERVICE = "screencodec.v1.ScreenCodec"


@pytest.fixture(scope="module")
def server():
    with running_server([codec_runtime()]) as srv:
        yield srv


@pytest.fixture(scope="module")
def channel(server):
    with server.channel() as ch:
        yield ch


@pytest.fixture(scope="module")
def stub(server, channel):
    return server.stub(channel)


@pytest.fixture(scope="module")
def levels(stub) -> list[int]:
    return [q.quality for q in stub.ListModels(pb.ListModelsRequest()).models[0].qualities]


def _code(call, *args, **kwargs) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        call(*args, **kwargs)
    return info.value.code()


def _frame(width: int, height: int) -> np.ndarray:
    """A real screenshot stretched to width x height (RGB)."""
    rgb = png_to_rgb(screenshots()["python_docs_code"])
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_NEAREST)


def test_health_serving_and_reflection_lists_the_service(channel):
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", SERVICE):
        status = health.Check(health_pb2.HealthCheckRequest(service=name)).status
        assert status == health_pb2.HealthCheckResponse.SERVING
    services = ProtoReflectionDescriptorDatabase(channel).get_services()
    assert SERVICE in services and "grpc.health.v1.Health" in services


def test_reflection_client_round_trip(server, channel):
    """A client that knows nothing but reflection (as ghz/grpcurl without -proto) can call Encode."""
    pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    method = pool.FindServiceByName(SERVICE).methods_by_name["Encode"]
    request_cls = message_factory.GetMessageClass(method.input_type)
    response_cls = message_factory.GetMessageClass(method.output_type)
    encode = channel.unary_unary(
        f"/{SERVICE}/Encode",
        request_serializer=request_cls.SerializeToString,
        response_deserializer=response_cls.FromString,
    )
    png = screenshots()["django_admin_actions"]
    response = encode(request_cls(image=png, quality=2))
    assert response.stats.width == 799 and response.stats.height == 360
    assert bitstream.unpack(response.bitstream).quality == 2


def test_list_models(stub):
    listing = stub.ListModels(pb.ListModelsRequest())
    model = listing.models[0]
    assert listing.default_model == model.name
    assert [q.quality for q in model.qualities] == list(range(1, len(model.qualities) + 1))
    assert model.default_quality in [q.quality for q in model.qualities]
    assert all(q.rd_lambda > 0 for q in model.qualities)
    # the bundled default advertises the rate each level gave on the held-out screenshots
    assert all(q.HasField("typical_bpp") for q in model.qualities)
    rates = [q.typical_bpp for q in model.qualities]
    assert 0 < rates[0] and all(low < high for low, high in zip(rates, rates[1:]))
    assert model.active_execution_provider == model.execution_providers[0] and "none" in model.detectors


@pytest.mark.parametrize("name", sorted(screenshots()))
def test_round_trip_every_quality_psnr_rises(stub, levels, name):
    png = screenshots()[name]
    reference = png_to_rgb(png)
    height, width = reference.shape[:2]
    scores, sizes = [], []
    for quality in levels:
        encoded = stub.Encode(pb.EncodeRequest(image=png, quality=quality))
        assert (encoded.stats.width, encoded.stats.height, encoded.quality) == (width, height, quality)
        assert encoded.stats.bpp == pytest.approx(len(encoded.bitstream) * 8 / (width * height))
        assert {"image_decode", "entropy", "total"} <= set(encoded.stats.stage_ms)
        decoded = stub.Decode(pb.DecodeRequest(bitstream=encoded.bitstream))
        assert (decoded.width, decoded.height, decoded.format) == (width, height, pb.OUTPUT_FORMAT_PNG)
        image = png_to_rgb(decoded.image)
        assert image.shape == reference.shape
        scores.append(psnr(reference, image))
        sizes.append(len(encoded.bitstream))
    # Strictly better with each level; how much better is the model's RD curve (bench/rd.py).
    # (0.5 dB between q1 and q5 on the step-2400 default; a server that ignored quality gives 0.)
    assert all(a < b for a, b in zip(scores, scores[1:])) and scores[-1] > scores[0] + 0.2, scores
    assert_faithful(reference, image)
    assert sizes == sorted(sizes), sizes


def test_default_quality_and_input_formats_agree(stub):
    png = screenshots()["django_admin_actions"]
    rgb = png_to_rgb(png)
    height, width = rgb.shape[:2]
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    ppm = cv2.imencode(".ppm", bgr)[1].tobytes()
    bgra = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA).tobytes()
    requests = {
        "png": pb.EncodeRequest(image=png),
        "ppm": pb.EncodeRequest(image=ppm),
        "raw RGB8": pb.EncodeRequest(raw=pb.RawImage(width=width, height=height, format=pb.PIXEL_FORMAT_RGB8,
                                                     data=rgb.tobytes())),
        "raw BGRA8": pb.EncodeRequest(raw=pb.RawImage(width=width, height=height, format=pb.PIXEL_FORMAT_BGRA8,
                                                      data=bgra)),
    }
    # Lossless inputs carry the same pixels, so they must give the same bitstream.
    streams = {name: stub.Encode(req).bitstream for name, req in requests.items()}
    assert len(set(streams.values())) == 1, list(streams)
    default = stub.ListModels(pb.ListModelsRequest()).models[0].default_quality
    assert bitstream.unpack(streams["png"]).quality == default

    jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    encoded = stub.Encode(pb.EncodeRequest(image=jpeg, quality=5))
    raw = stub.Decode(pb.DecodeRequest(bitstream=encoded.bitstream, format=pb.OUTPUT_FORMAT_RAW_RGB8))
    assert raw.format == pb.OUTPUT_FORMAT_RAW_RGB8 and len(raw.image) == width * height * 3
    assert_faithful(rgb, np.frombuffer(raw.image, np.uint8).reshape(height, width, 3))


def test_text_mask_choices_reach_the_runtime():
    runtime = FakeRuntime()  # records the mask it was given
    png = screenshots()["python_docs_code"]
    mask = np.zeros((400, 600), np.uint8)
    mask[40:90, 10:330] = 255  # the page title
    with running_server([runtime]) as srv, srv.channel() as ch:
        stub = srv.stub(ch)
        stub.Encode(pb.EncodeRequest(image=png, detector="none"))
        assert runtime.last_text_mask == "none"
        stub.Encode(pb.EncodeRequest(image=png, mask=pb.TextMask(width=600, height=400, data=mask.tobytes())))
        assert np.array_equal(runtime.last_text_mask, (mask > 0).astype(np.uint8))
        stub.Encode(pb.EncodeRequest(image=png))
        assert runtime.last_text_mask is None  # model default


def _requests_with_bad_frame(png: bytes) -> list[pb.EncodeRequest]:
    return [
        pb.EncodeRequest(image=png if i != 2 else b"not an image", quality=1 + i % 5, frame_id=100 + i)
        for i in range(6)
    ]


def test_encode_stream_keeps_order_and_survives_a_bad_frame(stub):
    png = screenshots()["python_docs_code"]
    responses = list(stub.EncodeStream(iter(_requests_with_bad_frame(png))))
    assert [r.frame_id for r in responses] == list(range(100, 106))
    assert responses[2].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0] and not responses[2].bitstream
    good = [r for i, r in enumerate(responses) if i != 2]
    assert all(not r.HasField("error") and r.bitstream for r in good)
    assert [bitstream.unpack(r.bitstream).quality for r in good] == [1, 2, 4, 5, 1]

    requests = [pb.DecodeRequest(bitstream=r.bitstream, frame_id=r.frame_id) for r in good]
    requests.insert(1, pb.DecodeRequest(bitstream=good[0].bitstream[:-1], frame_id=7))  # truncated
    decoded = list(stub.DecodeStream(iter(requests)))
    assert [d.frame_id for d in decoded] == [100, 7, 101, 103, 104, 105]
    assert decoded[1].error.code == grpc.StatusCode.DATA_LOSS.value[0]
    assert all(d.width == 600 and d.height == 400 for i, d in enumerate(decoded) if i != 1)


def _bad_encode_requests(png: bytes) -> dict[str, tuple[pb.EncodeRequest, grpc.StatusCode]]:
    inv, nf = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND
    # A valid PNG signature + IHDR that declares 100000 x 100000 pixels, with no pixel data at all.
    huge_png = png[:16] + (100_000).to_bytes(4, "big") * 2 + png[24:33]
    # A JPEG start-of-frame declaring 9000 x 9000.
    huge_jpeg = b"\xff\xd8\xff\xc0\x00\x11\x08" + (9000).to_bytes(2, "big") * 2 + b"\x03" + b"\x00" * 9
    raw = pb.RawImage(width=600, height=400, format=pb.PIXEL_FORMAT_RGB8, data=bytes(600 * 400 * 3 - 1))
    return {
        "garbage": (pb.EncodeRequest(image=b"definitely not an image"), inv),
        "truncated png": (pb.EncodeRequest(image=png[: len(png) // 2]), inv),
        "no input": (pb.EncodeRequest(quality=3), inv),
        "raw wrong size": (pb.EncodeRequest(raw=raw), inv),
        "raw no format": (pb.EncodeRequest(raw=pb.RawImage(width=2, height=2, data=bytes(12))), inv),
        "quality too high": (pb.EncodeRequest(image=png, quality=6), inv),
        "quality huge": (pb.EncodeRequest(image=png, quality=2**32 - 1), inv),
        "unknown model": (pb.EncodeRequest(image=png, model="no-such-model"), nf),
        "unknown detector": (pb.EncodeRequest(image=png, detector="tesseract"), inv),
        "mask wrong size": (pb.EncodeRequest(image=png, mask=pb.TextMask(width=10, height=10, data=bytes(100))), inv),
        "png over pixel limit": (pb.EncodeRequest(image=huge_png), inv),
        "jpeg over pixel limit": (pb.EncodeRequest(image=huge_jpeg), inv),
    }


def _bad_decode_requests(stream: bytes) -> dict[str, tuple[pb.DecodeRequest, grpc.StatusCode]]:
    inv, loss = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.DATA_LOSS
    parsed = bitstream.unpack(stream)
    foreign = bitstream.pack(bitstream.Bitstream(**{**parsed.__dict__, "model_id": b"other-m1"}))
    huge = bitstream.pack(bitstream.Bitstream(**{**parsed.__dict__, "width": 65535, "height": 65535}))
    flipped = bytearray(stream)
    flipped[len(stream) // 2] ^= 0xFF
    version = bytearray(stream)
    version[4] = 99
    emptied = bitstream.pack(bitstream.Bitstream(**{**parsed.__dict__, "tiles": tuple(
        bitstream.TileSections(t.z, tuple(b"" for _ in t.y)) for t in parsed.tiles
    )}))  # a valid checksum over sections that do not decode
    return {
        "empty": (pb.DecodeRequest(), inv),
        "not a bitstream": (pb.DecodeRequest(bitstream=b"\x89PNG not ours"), inv),
        "truncated": (pb.DecodeRequest(bitstream=stream[:-10]), loss),
        "header only": (pb.DecodeRequest(bitstream=stream[:12]), loss),
        "corrupt payload": (pb.DecodeRequest(bitstream=bytes(flipped)), loss),
        "undecodable sections": (pb.DecodeRequest(bitstream=emptied), loss),
        "unknown version": (pb.DecodeRequest(bitstream=bytes(version)), inv),
        "foreign model": (pb.DecodeRequest(bitstream=foreign), inv),
        "over pixel limit": (pb.DecodeRequest(bitstream=huge), inv),
        "unknown output format": (pb.DecodeRequest(bitstream=stream, format=9), inv),
        "unknown model": (pb.DecodeRequest(bitstream=stream, model="no-such-model"), grpc.StatusCode.NOT_FOUND),
    }


def test_bad_input_gets_its_status_and_the_server_keeps_answering(stub):
    png = screenshots()["python_docs_code"]
    stream = stub.Encode(pb.EncodeRequest(image=png, quality=1)).bitstream
    cases = {**_bad_encode_requests(png), **_bad_decode_requests(stream)}
    got = {}
    for name, (request, _) in cases.items():
        call = stub.Encode if isinstance(request, pb.EncodeRequest) else stub.Decode
        with pytest.raises(grpc.RpcError) as info:
            call(request, timeout=10)
        got[name] = info.value.code()
        assert info.value.details(), name  # a message saying what was wrong
    assert got == {name: code for name, (_, code) in cases.items()}
    assert stub.Decode(pb.DecodeRequest(bitstream=stream)).width == 600


def test_messages_over_4_mib_work(stub):
    """A raw 1080p RGB frame is 6.2 MB: over gRPC's 4 MiB default, under the server's 64 MiB."""
    frame = _frame(1920, 1080)
    raw = pb.RawImage(width=1920, height=1080, format=pb.PIXEL_FORMAT_RGB8, data=frame.tobytes())
    encoded = stub.Encode(pb.EncodeRequest(raw=raw, quality=5))
    decoded = stub.Decode(pb.DecodeRequest(bitstream=encoded.bitstream, format=pb.OUTPUT_FORMAT_RAW_RGB8))
    assert len(decoded.image) == len(raw.data) > 4 << 20
    assert_faithful(frame, np.frombuffer(decoded.image, np.uint8).reshape(frame.shape))


def test_message_over_configured_limit_is_resource_exhausted():
    # Transport mechanics, not the codec: the stand-in keeps two 1080p encodes cheap.
    with running_server([FakeRuntime()], max_message_bytes=7 << 20) as srv, srv.channel() as ch:
        stub = srv.stub(ch)
        rgb = _frame(1920, 1080)
        fits = pb.RawImage(width=1920, height=1080, format=pb.PIXEL_FORMAT_RGB8, data=rgb.tobytes())  # 6.2 MB
        assert stub.Encode(pb.EncodeRequest(raw=fits)).stats.width == 1920
        rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
        too_big = pb.RawImage(width=1920, height=1080, format=pb.PIXEL_FORMAT_RGBA8, data=rgba.tobytes())  # 8.3 MB
        assert _code(stub.Encode, pb.EncodeRequest(raw=too_big)) == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert stub.Encode(pb.EncodeRequest(raw=fits)).stats.height == 1080


def test_metrics_count_the_calls_by_code():
    with running_server([codec_runtime()]) as srv, srv.channel() as ch:
        stub = srv.stub(ch)
        png = screenshots()["python_docs_code"]
        for _ in range(3):
            stream = stub.Encode(pb.EncodeRequest(image=png, quality=4)).bitstream
        stub.Decode(pb.DecodeRequest(bitstream=stream))
        _code(stub.Encode, pb.EncodeRequest(image=b"junk"))
        _code(stub.Encode, pb.EncodeRequest(image=png, model="nope"))
        _code(stub.Decode, pb.DecodeRequest(bitstream=stream[:-1]))
        list(stub.EncodeStream(iter(_requests_with_bad_frame(png))))
        m = srv.metrics()
        model = srv.server.registry.default_name

    def sample(name: str, **labels: str) -> float:
        return m.get((name, tuple(sorted(labels.items()))), 0.0)

    def rpc(method: str, kind: str = "unary") -> dict[str, str]:
        return {"grpc_method": method, "grpc_service": SERVICE, "grpc_type": kind}

    handled = "grpc_server_handled_total"
    assert sample(handled, grpc_code="OK", **rpc("Encode")) == 3
    assert sample(handled, grpc_code="INVALID_ARGUMENT", **rpc("Encode")) == 1
    assert sample(handled, grpc_code="NOT_FOUND", **rpc("Encode")) == 1
    assert sample(handled, grpc_code="OK", **rpc("Decode")) == 1
    assert sample(handled, grpc_code="DATA_LOSS", **rpc("Decode")) == 1
    assert sample(handled, grpc_code="OK", **rpc("EncodeStream", "bidi_stream")) == 1
    assert sample("grpc_server_started_total", **rpc("Encode")) == 5
    assert sample("grpc_server_started_total", **rpc("ListModels")) == 0  # pre-initialised series
    assert sample("grpc_server_msg_received_total", **rpc("EncodeStream", "bidi_stream")) == 6
    assert sample("grpc_server_msg_sent_total", **rpc("EncodeStream", "bidi_stream")) == 6
    assert sample("grpc_server_msg_sent_total", **rpc("Encode")) == 3
    assert sample("grpc_server_handling_seconds_count", **rpc("Encode")) == 5
    assert sample("grpc_server_handling_seconds_bucket", le="10.0", **rpc("Encode")) == 5
    # 3 unary + 5 good stream frames encoded; encode stages and bpp observed for each.
    assert sample("screencodec_stage_seconds_count", direction="encode", stage="image_decode") == 8
    assert sample("screencodec_stage_seconds_count", direction="decode", stage="image_encode") == 1
    assert sample("screencodec_bits_per_pixel_count", model=model, quality="4") == 3 + 1  # + frame 103
    assert sample("screencodec_bytes_in_total", direction="encode") > 3 * len(png)
    assert sample("screencodec_bytes_out_total", direction="decode") > 0
    assert sample("screencodec_inflight_requests") == 0 and sample("screencodec_queued_requests") == 0
    info = [labels for (name, labels) in m if name == "screencodec_execution_provider_info"]
    assert info and ("model", model) in info[0] and any(k == "provider" and v for k, v in info[0])


def test_decode_without_a_model_name_goes_to_the_model_that_made_the_stream():
    from types import SimpleNamespace

    from service.models import ModelRegistry

    registry = ModelRegistry()
    default = SimpleNamespace(name="default", model_id="00" * 8)
    lite = SimpleNamespace(name="lite", model_id="11" * 8)
    registry.install([default, lite])
    assert registry.for_stream("", bytes.fromhex("11" * 8)) is lite
    assert registry.for_stream("", bytes.fromhex("22" * 8)) is default  # unknown: the default refuses it
    assert registry.for_stream("default", bytes.fromhex("11" * 8)) is default  # a name wins
