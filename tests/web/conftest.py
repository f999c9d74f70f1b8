"""The support page on a real socket: a gateway with its HTTP listener on a free port,
clients that keep cookies, and one headless Chromium for the whole session.

Browser tests need Debian's ``chromium`` and the ``playwright`` package (never
``playwright install``: its download cannot work here). Without them the
browser tests skip and say why — unless ``HELPDESK_REQUIRE_BROWSER=1`` (CI),
where a missing browser is a failure, not a skip.
"""

from __future__ import annotations

import email
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import replace
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.clock import FrozenClock
from gateway.config import Settings, load_settings
from gateway.testing import RunningGateway, running_gateway
from tests.helpers import until

CHROMIUM = os.environ.get("HELPDESK_CHROMIUM", "/usr/bin/chromium")
# Each run writes here (ignored by git); `make screenshots` copies them to docs/screenshots/.
SCREENSHOTS = Path(__file__).resolve().parents[1] / ".screenshots"
HEADER = "X-Panel-User"
PASSWORD = "secret-pass"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Web:
    """A running gateway with its support page, and what tests do through it."""

    def __init__(self, gw: RunningGateway, clock: FrozenClock) -> None:
        self.gw = gw
        self.clock = clock
        assert gw.gateway.http_bound is not None
        host, port = gw.gateway.http_bound
        self.base = f"http://{host}:{port}"
        self._clients: list[httpx.Client] = []

    @property
    def outgoing(self) -> Path:
        return Path(self.gw.gateway.settings.data_dir) / "outgoing" / "new"

    def client(self, account: str | None = None) -> httpx.Client:
        """A browser-like client; ``account``: the control panel's header names it."""
        headers = {HEADER: account} if account else {}
        c = httpx.Client(base_url=self.base, headers=headers, timeout=30)
        self._clients.append(c)
        return c

    def token(self, client: httpx.Client, path: str = "/tickets/new") -> str:
        page = client.get(path)
        found = CSRF.search(page.text)
        assert found, f"no form with a CSRF token on {path}: {page.status_code}"
        return found.group(1)

    def post(
        self, client: httpx.Client, path: str, data: dict[str, str], page: str = "/tickets/new"
    ) -> httpx.Response:
        """A form POST with this session's CSRF token, read from ``page``."""
        return client.post(path, data={"csrf": self.token(client, page), **data})

    def operator(self, name: str = "Анна", address: str = "anna@example.com") -> httpx.Client:
        """A signed-in operator's client (the operator is added first)."""
        self.gw.gateway.wiring.desk.add_operator(name, address, PASSWORD)
        c = self.client()
        r = self.post(c, "/op/login", {"login": address, "password": PASSWORD}, "/op/login")
        assert r.status_code == 303, r.text
        return c

    def new_ticket(self, client: httpx.Client, subject: str, text: str, **extra: str) -> int:
        data = {"subject": subject, "text": text, "notify": "on", "notify_address": "", **extra}
        r = self.post(client, "/tickets/new", data, "/tickets/new")
        assert r.status_code == 303, r.text
        return int(r.headers["location"].rsplit("/", 1)[1])

    def mails(self, count: int = 1) -> list[email.message.EmailMessage]:
        """The mails the dispatcher dropped into the Maildir (no smarthost in these tests)."""
        assert until(lambda: len(list(self.outgoing.glob("*"))) >= count), "no mail dropped"
        files = sorted(self.outgoing.glob("*"), key=lambda p: p.stat().st_mtime)
        return [
            email.message_from_bytes(f.read_bytes(), policy=default_policy)  # type: ignore[misc]
            for f in files
        ]

    def close(self) -> None:
        for c in self._clients:
            c.close()


def web_settings(settings: Settings, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "http_listen": "http://127.0.0.1:0",
        "http_trusted_header": HEADER,
        "http_trusted_proxies": "127.0.0.1",
    }
    return replace(settings, **{**values, **overrides})


def sqlite_site_settings(tmp_path: Path) -> Settings:
    """The page on one SQLite gateway, for the modules that drive Chromium: they need
    no second backend, only a site full of things to show."""
    settings = load_settings(
        environ={},
        data_dir=tmp_path / "var",
        database_url=f"sqlite:///{tmp_path / 'helpdesk.db'}",
        domain="example.com",
        listen="smtp://127.0.0.1:0",
        intake_writer="thread",
        http_listen="",
    )
    return web_settings(settings)


@pytest.fixture
def web(settings: Settings, clock: FrozenClock) -> Iterator[Web]:
    with running_gateway(web_settings(settings), clock) as gw:
        w = Web(gw, clock)
        try:
            yield w
        finally:
            w.close()


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright)"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per module (Debian's, not Playwright's download).

    Per module, not per run: Playwright's sync API keeps its event loop running in
    this thread while it is open, and every later test that calls ``asyncio.run``
    (run_sweep, an ASGI request) would fail with "cannot be called from a running
    event loop"."""
    missing = _browser_missing()
    if missing:
        if os.environ.get("HELPDESK_REQUIRE_BROWSER") == "1":
            pytest.fail(f"HELPDESK_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


def screenshot(page: Any, name: str) -> None:
    """A PNG of the page for the README: tests/.screenshots/, overwritten each run and
    copied to docs/screenshots/ only by `make screenshots`, so a test run changes no
    tracked file."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
