"""Whatever goes wrong, the visitor reads a page in their language, never a traceback.

These two faults cannot be caused from outside a healthy gateway, so they drive
the page's application directly (Starlette's TestClient) with a gateway whose
parts fail: a database without its tables, an intake that raises — through
httpx's ASGI transport, from the proxy's address.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from gateway.clock import FrozenClock
from gateway.desk.model import Policy
from gateway.intake import IntakeRules
from gateway.operations.desk import Desk
from gateway.outcome import Delivery, Outcome
from gateway.store import db
from gateway.web.backend import Backend, WebConfig
from gateway.web.site import make_app


def _client(tmp_path: Path, deliver_fails: bool = False) -> httpx.AsyncClient:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'helpdesk.db'}")
    if deliver_fails:
        db.upgrade(engine)

    async def deliver(delivery: Delivery) -> Outcome:
        raise RuntimeError("a bug in intake")

    sessions, clock = db.session_factory(engine), FrozenClock()
    backend = Backend(
        sessions=sessions,
        clock=clock,
        deliver=deliver,
        desk=Desk(sessions, clock, Policy()),
        intake=IntakeRules(support="support@example.com", domain="example.com", secret=b"s" * 32),
    )
    config = WebConfig(
        secret=b"s" * 32,
        support="support@example.com",
        domain="example.com",
        base_url="http://127.0.0.1",
        trusted_header="X-Panel-User",
        trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),),
    )
    transport = httpx.ASGITransport(
        make_app(backend, config), raise_app_exceptions=False, client=("127.0.0.1", 50000)
    )
    return httpx.AsyncClient(
        transport=transport, base_url="http://page", headers={"X-Panel-User": "ivan@example.ru"}
    )


def _run(main: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    """asyncio.run in a thread of its own: Playwright's sync API keeps a loop running in
    this one for the whole session."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(main())).result()  # type: ignore[arg-type]


def test_a_database_without_its_tables_is_a_503_page(tmp_path: Path) -> None:
    """A database without its tables shows a human 503 page, never a traceback."""

    async def run() -> httpx.Response:
        async with _client(tmp_path) as client:
            return await client.get("/tickets")

    r = _run(run)
    assert r.status_code == 503
    assert "Хранилище временно недоступно" in r.text and "Traceback" not in r.text


def test_a_bug_is_a_500_page_in_the_visitors_language(tmp_path: Path) -> None:
    """A bug behind a form is a 500 page in the visitor's language, naming no exception."""

    async def run() -> httpx.Response:
        async with _client(tmp_path, deliver_fails=True) as client:
            page = await client.get("/tickets/new?lang=en")
            token = page.text.split('name="csrf" value="')[1].split('"')[0]
            return await client.post(
                "/tickets/new",
                data={"csrf": token, "subject": "Site down", "text": "502", "notify": "on"},
            )

    r = _run(run)
    assert r.status_code == 500
    assert "Something went wrong" in r.text and "RuntimeError" not in r.text
