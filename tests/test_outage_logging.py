"""A database outage is two log lines, not a traceback a second (issue 14, item 5)."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from gateway.testing import running_gateway
from tests.helpers import until, wake_dispatcher


def _passes(gw) -> int:
    dispatcher = gw.gateway.dispatcher
    assert dispatcher is not None
    return dispatcher.passes


def _dispatchers_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "gateway.notify"]


def _said_back(caplog) -> bool:
    """The dispatcher's own "back" line: the scheduler says it too, and may say it first."""
    return any("back after" in line for line in _dispatchers_lines(caplog))


def test_the_dispatcher_says_once_that_the_database_is_away_and_once_that_it_is_back(
    gateway, caplog, tmp_path: Path
):
    """While the database is away the dispatcher backs off quietly: one line, then one more."""
    url = make_url(gateway.gateway.settings.db_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("the outage is made by taking SQLite's file away")
    caplog.set_level(logging.INFO)
    # The database's directory goes away as an unmounted volume would, and comes back in one
    # rename: moving the files themselves left a moment in which a new connection made an
    # empty database at the path, and the pool kept it ("no such table" for good).
    home = Path(url.database or "").parent
    assert home == tmp_path
    away = home.with_name(home.name + "-away")
    home.rename(away)
    gateway.gateway.engine.dispose()
    start = _passes(gateway)

    def passes_made(n: int) -> bool:
        wake_dispatcher(gateway)
        return _passes(gateway) >= start + n

    assert until(lambda: passes_made(5))
    away.rename(home)
    back = until(lambda: passes_made(7) and _said_back(caplog))
    mine = _dispatchers_lines(caplog)
    assert back, (mine, _passes(gateway) - start)
    assert len(mine) == 2, mine
    assert "the database is unavailable" in mine[0] and "the database is back" in mine[1]
    assert not [r for r in caplog.records if r.exc_info and r.name == "gateway.notify"]


class _Proxy:
    """A TCP relay to PostgreSQL that can drop every connection and refuse new ones."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            server = socket.create_connection(self.target)
            self.conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def down(self) -> None:
        self.up = False
        for s in self.conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        self.conns.clear()

    def close(self) -> None:
        self.down()
        self.listener.close()


def test_a_postgresql_outage_is_two_lines_of_the_dispatchers_log(settings, clock, caplog):
    """Issue 14.5 on PostgreSQL: connections dropped and refused, then back: two lines."""
    url = make_url(settings.db_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("a PostgreSQL outage: the SQLite variant is the test above")
    caplog.set_level(logging.INFO)
    proxy = _Proxy(url.host or "127.0.0.1", url.port or 5432)
    relayed = url.set(host="127.0.0.1", port=proxy.port)
    try:
        with running_gateway(settings, clock, database_url=relayed.render_as_string(False)) as gw:
            start = _passes(gw)

            def passes_made(n: int) -> bool:
                wake_dispatcher(gw)
                return _passes(gw) >= start + n

            proxy.down()
            assert until(lambda: passes_made(5), timeout=30)
            proxy.up = True
            assert until(lambda: passes_made(7) and _said_back(caplog), timeout=60)
            mine = _dispatchers_lines(caplog)
            assert len(mine) == 2, mine
            assert "the database is unavailable" in mine[0] and "is back" in mine[1]
            assert not [r for r in caplog.records if r.exc_info and r.name == "gateway.notify"]
    finally:
        proxy.close()
