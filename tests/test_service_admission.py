"""Admission control, deadlines, cancellation and startup health, against a runtime whose encode
takes a known time (FakeRuntime.seconds_per_megapixel)."""

from __future__ import annotations

import asyncio
import threading
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from conftest_service import running_server
from fake_runtime import FakeRuntime
from service import pipeline
from service.admission import Admission, QueueFull
from service.api.screencodec.v1 import screencodec_pb2 as pb
from service.errors import ServiceError

WORK_S = 0.8  # encode time of one request below
SIDE = 500
REQUEST = pb.EncodeRequest(
    raw=pb.RawImage(width=SIDE, height=SIDE, format=pb.PIXEL_FORMAT_RGB8, data=bytes(SIDE * SIDE * 3))
)


def _slow_runtime() -> FakeRuntime:
    return FakeRuntime(seconds_per_megapixel=WORK_S / (SIDE * SIDE / 1e6))


def _wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


@pytest.fixture
def one_worker_one_slot():
    """A server with 1 worker and a queue of 1, plus its runtime."""
    runtime = _slow_runtime()
    with running_server([runtime], max_concurrency=1, max_queue=1) as srv, srv.channel() as ch:
        runtime.encode_calls = 0  # forget the warm-up
        yield srv, srv.stub(ch), runtime


def _occupy_the_worker(stub, runtime: FakeRuntime) -> grpc.Future:
    running = stub.Encode.future(REQUEST)
    _wait_until(lambda: runtime.encode_calls == 1)
    return running


def test_queue_full_is_rejected_at_once_and_queued_work_still_runs(one_worker_one_slot):
    srv, stub, runtime = one_worker_one_slot
    running = _occupy_the_worker(stub, runtime)
    queued = stub.Encode.future(REQUEST)
    _wait_until(lambda: srv.server.admission.queued == 1)

    start = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        stub.Encode(REQUEST)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert time.monotonic() - start < WORK_S / 2  # immediately, not after waiting for a worker

    assert running.result(10).stats.width == SIDE
    assert queued.result(10).stats.width == SIDE
    assert runtime.encode_calls == 2
    metrics = srv.metrics()
    assert metrics[("screencodec_rejected_total", ())] == 1


def test_deadline_while_queued_drops_the_work(one_worker_one_slot):
    srv, stub, runtime = one_worker_one_slot
    running = _occupy_the_worker(stub, runtime)

    start = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        stub.Encode(REQUEST, timeout=0.2)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - start < WORK_S / 2
    _wait_until(lambda: srv.server.admission.queued == 0)  # left the queue

    running.result(10)
    time.sleep(0.2)
    assert runtime.encode_calls == 1  # the expired request never reached the runtime
    assert stub.Encode(REQUEST).stats.width == SIDE  # and its slot was not leaked


def test_client_cancellation_drops_queued_work(one_worker_one_slot):
    srv, stub, runtime = one_worker_one_slot
    running = _occupy_the_worker(stub, runtime)
    cancelled = stub.Encode.future(REQUEST)
    _wait_until(lambda: srv.server.admission.queued == 1)
    cancelled.cancel()
    _wait_until(lambda: srv.server.admission.queued == 0)

    running.result(10)
    time.sleep(0.2)
    assert runtime.encode_calls == 1
    _wait_until(lambda: srv.server.admission.running == 0)


def test_work_beyond_the_deadline_of_a_running_request_is_not_waited_for(one_worker_one_slot):
    srv, stub, runtime = one_worker_one_slot
    start = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        stub.Encode(REQUEST, timeout=0.3)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - start < WORK_S
    # The runtime call itself cannot be interrupted: its slot is freed when it finishes.
    _wait_until(lambda: srv.server.admission.running == 0)
    key = (("grpc_code", "DEADLINE_EXCEEDED"), ("grpc_method", "Encode"),
           ("grpc_service", "screencodec.v1.ScreenCodec"), ("grpc_type", "unary"))
    # The handler records its status on the event loop after the worker frees its slot: poll.
    _wait_until(lambda: ("grpc_server_handled_total", key) in srv.metrics())
    assert srv.metrics()[("grpc_server_handled_total", key)] == 1


def test_not_serving_until_models_are_loaded():
    runtime = FakeRuntime()
    with running_server([runtime], load_models=False) as srv, srv.channel() as ch:
        health = health_pb2_grpc.HealthStub(ch)
        assert health.Check(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.NOT_SERVING
        with pytest.raises(grpc.RpcError) as info:
            srv.stub(ch).Encode(REQUEST)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert runtime.encode_calls == 0

        srv.run(srv.server.load_models())
        assert runtime.encode_calls == len(runtime.qualities)  # warm-up ran every quality
        assert health.Check(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.SERVING
        assert srv.stub(ch).Encode(REQUEST).stats.height == SIDE


def test_admission_is_fifo_and_signals_cancelled_work():
    """Unit level: queued work starts in arrival order; cancelling a running request sets the
    event its work polls between stages, and its slot is freed only when the work returns."""

    async def scenario() -> None:
        admission = Admission(max_concurrency=1, max_queue=3)
        gate, started, order, saw_cancel = threading.Event(), threading.Event(), [], []
        loop = asyncio.get_running_loop()

        def blocking(cancelled: threading.Event) -> None:
            started.set()
            gate.wait(5)
            saw_cancel.append(cancelled.is_set())

        first = asyncio.ensure_future(admission.run(blocking))
        await loop.run_in_executor(None, started.wait, 5)
        queued = [asyncio.ensure_future(admission.run(lambda _c, i=i: order.append(i))) for i in range(3)]
        await asyncio.sleep(0.05)
        assert (admission.running, admission.queued) == (1, 3)
        with pytest.raises(QueueFull):
            await admission.run(lambda _c: None)

        first.cancel()
        await asyncio.sleep(0.05)
        assert admission.running == 1 and not order  # still held: the work has not returned
        gate.set()
        await asyncio.gather(*queued)
        assert saw_cancel == [True] and order == [0, 1, 2]
        assert (admission.running, admission.queued) == (0, 0)
        admission.shutdown()

    asyncio.run(scenario())


def test_pipeline_skips_the_runtime_when_cancelled():
    runtime = FakeRuntime()
    job = pipeline.prepare_encode(runtime, REQUEST, max_pixels=SIDE * SIDE)
    cancelled = threading.Event()
    cancelled.set()
    with pytest.raises(ServiceError) as info:
        pipeline.run_encode(job, cancelled)
    assert info.value.code == grpc.StatusCode.CANCELLED and runtime.encode_calls == 0
