"""Serve an ASGI app with uvicorn on a free local port, and read Server-Sent Events with httpx."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def serving(app: Any, send_buffer: int | None = None) -> AsyncIterator[str]:
    """Run ``app`` in this event loop on 127.0.0.1; yields its base URL; stops it afterwards.
    ``send_buffer``: the kernel send buffer of its connections, in bytes (small: a client that
    does not read blocks the server's writes soon, as over a real network)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    sockets = None
    if send_buffer is not None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)  # inherited by accepted sockets
        listener.bind(("127.0.0.1", port))
        sockets = [listener]
    task = asyncio.ensure_future(server.serve(sockets=sockets))
    for _ in range(500):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@dataclass
class Message:
    event: str
    data: Any
    id: str | None


async def messages(response: Any) -> AsyncIterator[Message | str]:
    """SSE messages (``Message``) and comments (``str``) of a streaming httpx response."""
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if "data" in fields:
                yield Message(fields.get("event", "message"), json.loads(fields["data"]), fields.get("id"))
            fields = {}
        elif line.startswith(":"):
            yield line[1:].strip()
        else:
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
