"""Admission control: at most N requests run codec work, at most Q wait (FIFO), the rest are refused.

Codec work runs in a pool of exactly N threads, so a request that holds a slot always has a thread.
A slot is released when its work actually finishes, not when the RPC gives up: a cancelled request
whose runtime call is already running still occupies its thread, and counting it keeps the pool from
being oversubscribed.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import grpc

from service.errors import ServiceError

T = TypeVar("T")


class QueueFull(ServiceError):
    def __init__(self, running: int, queued: int) -> None:
        super().__init__(
            grpc.StatusCode.RESOURCE_EXHAUSTED, f"server busy: {running} requests running, {queued} queued"
        )


class Admission:
    """Deadlines need nothing here: grpc cancels a handler whose deadline passes, and a cancelled
    waiter leaves the queue (its work never starts)."""

    def __init__(self, max_concurrency: int, max_queue: int) -> None:
        self._limit = max_concurrency
        self._max_queue = max_queue
        self._running = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._pool = ThreadPoolExecutor(max_concurrency, thread_name_prefix="codec")

    @property
    def running(self) -> int:
        return self._running

    @property
    def queued(self) -> int:
        return len(self._waiters)

    async def run(self, work: Callable[[threading.Event], T]) -> T:
        """Run work(cancelled) on a codec thread once a slot is free. The event passed to work is
        set when the caller stops waiting (cancelled, deadline), so work can stop between stages."""
        await self._acquire()
        cancelled = threading.Event()
        loop = asyncio.get_running_loop()
        try:
            future = self._pool.submit(work, cancelled)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(lambda _: loop.call_soon_threadsafe(self._release))
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def _acquire(self) -> None:
        if self._running < self._limit and not self._waiters:
            self._running += 1
            return
        if len(self._waiters) >= self._max_queue:
            raise QueueFull(self._running, len(self._waiters))
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # the slot was handed over just as we were cancelled: pass it on
            elif waiter in self._waiters:  # _release may already have skipped it
                self._waiters.remove(waiter)
            raise

    def _release(self) -> None:
        # Hand the slot straight to the oldest waiter, so newcomers cannot overtake the queue.
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._running -= 1

    def shutdown(self) -> None:
        """Wait for running work to finish and stop the threads (blocking)."""
        self._pool.shutdown(wait=True)
