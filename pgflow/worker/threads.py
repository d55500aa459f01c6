"""Threads for sync handlers: never block the event loop, never block the process's exit.

A thread is started whenever no idle one is free, so a sync handler never waits behind
another (the worker's slots already bound how many run at once). Threads are daemons: a
handler abandoned after its timeout cannot keep the process from exiting, and it no longer
counts against anyone's capacity. Idle threads exit after ``idle_timeout`` seconds.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

_Item = tuple[Future, Callable[[], Any]]


class ThreadRunner:
    def __init__(self, name: str = "pgflow-handler", idle_timeout: float = 30.0) -> None:
        self._name = name
        self._idle_timeout = idle_timeout
        self._work: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # idle threads not yet promised to a submitted item
        self._count = 0
        self._started = 0
        self._closed = False

    @property
    def threads(self) -> int:
        """Threads alive now (running or idle)."""
        return self._count

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run ``fn(*args)`` in a thread, in a copy of the caller's context variables."""
        if self._closed:
            raise RuntimeError("the handler thread runner is closed")
        future: Future = Future()
        context = contextvars.copy_context()
        with self._lock:
            if self._idle > 0:
                self._idle -= 1
                start = False
            else:
                self._count += 1
                self._started += 1
                start = True
        self._work.put((future, lambda: context.run(fn, *args)))
        if start:
            threading.Thread(target=self._serve, name=f"{self._name}-{self._started}", daemon=True).start()
        return future

    def _serve(self) -> None:
        while True:
            try:
                item = self._work.get(timeout=self._idle_timeout)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:  # nobody is waiting for this thread: leave
                        self._idle -= 1
                        self._count -= 1
                        return
                continue  # an item was promised to an idle thread: wait for it
            if item is None:
                with self._lock:
                    self._count -= 1
                return
            future, call = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(call())
                except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
                    future.set_exception(exc)
            with self._lock:
                if self._closed:
                    self._count -= 1
                    return
                self._idle += 1

    def close(self) -> None:
        """Let idle threads exit; running (or abandoned) handlers finish on their own."""
        with self._lock:
            self._closed = True
            idle = self._idle
            self._idle = 0
        for _ in range(idle):
            self._work.put(None)
