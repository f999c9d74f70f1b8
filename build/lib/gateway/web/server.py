"""The HTTP listener inside ``helpdesk serve``'s own event loop (uvicorn).

Why uvicorn, run as a task: it is the most used ASGI server for Starlette and
``uvicorn.Server.serve()`` can run on a loop someone else owns. Two things are
changed for that: the gateway owns SIGTERM/SIGINT (it stops SMTP, the writer,
the dispatcher and this listener in order), so uvicorn must not install its
own signal handlers; and it must not believe ``X-Forwarded-For`` — the
trusted-header rule compares the real peer address with the configured
proxies, so ``proxy_headers`` is off.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """The gateway handles signals; uvicorn leaves them alone."""
        yield


class HttpListener:
    """One uvicorn server on a socket we bind (port 0 works: tests read the bound port)."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.setblocking(False)
        self.bound: tuple[str, int] = self.sock.getsockname()[:2]
        self.server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, app: ASGIApp) -> None:
        config = uvicorn.Config(
            app,
            lifespan="off",
            proxy_headers=False,
            server_header=False,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
        )
        server = self.server = _Server(config)
        self._task = asyncio.ensure_future(server.serve(sockets=[self.sock]))
        while not server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise RuntimeError("the HTTP listener stopped while starting")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 10)
        self.sock.close()
