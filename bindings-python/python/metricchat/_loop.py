"""The sync API's event loop: one background thread runs the native awaitables.

The native module is async (every I/O method returns an awaitable of the caller's running
loop). The sync API runs those awaitables on this module's loop, on a daemon thread, and waits
for them — so it also works where the calling thread already runs a loop (Jupyter). Waits wake
up every 0.1 s, so a pending ``KeyboardInterrupt`` is raised promptly; the awaitable is then
cancelled. After ``fork()`` the child gets a loop (and thread) of its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from typing import Any, Awaitable, Callable, Optional, TypeVar

T = TypeVar("T")

#: How often a waiting thread wakes up to let Python raise pending signals.
_SIGNAL_POLL = 0.1


class BackgroundLoop:
    """An asyncio loop on a daemon thread, rebuilt in a forked child."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: Optional[int] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """This process's loop, started on first use."""
        with self._lock:
            if self._pid != os.getpid() or self._loop is None:
                # Threads do not survive fork(): a child starts its own loop thread.
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="metricchat-loop", daemon=True
                )
                self._thread.start()
                self._pid = os.getpid()
            return self._loop

    def submit(self, fn: Callable[..., Awaitable[T]], *args: Any) -> "concurrent.futures.Future[T]":
        """Calls ``fn(*args)`` on the loop thread (the native awaitables belong to the loop that
        is running where they are made) and returns the future of its result."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("metricchat's sync API was called from its own event loop thread")

        async def call() -> T:
            return await fn(*args)

        return asyncio.run_coroutine_threadsafe(call(), self.loop)

    def run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``await fn(*args)`` on the loop, from a thread that is not the loop's. Any exception
        while waiting (``KeyboardInterrupt``) cancels the call and propagates."""
        return wait(self.submit(fn, *args))


def wait(future: "concurrent.futures.Future[T]") -> T:
    """The result of ``future``, waking up for signals; an exception while waiting cancels it."""
    try:
        while True:
            # `wait` (not `result(timeout)`) so that a TimeoutError raised *by the call* is not
            # mistaken for the wait timing out.
            done, _ = concurrent.futures.wait([future], timeout=_SIGNAL_POLL)
            if done:
                return future.result()
    except BaseException:
        future.cancel()
        raise


#: The loop of the sync API.
background = BackgroundLoop()
