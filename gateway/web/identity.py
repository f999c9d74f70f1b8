"""Who the customer is, for every customer page: the panel's header, else the session.

The control panel's header (``HELPDESK_HTTP_TRUSTED_HEADER``) is believed only
on a connection from one of ``HELPDESK_HTTP_TRUSTED_PROXIES``; otherwise the
signed session cookie may hold the customer a sign-in link signed in.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from gateway.store import db, web_sessions
from gateway.web import auth, queries
from gateway.web.i18n import pick_locale
from gateway.web.page import Site


class CustomerBase:
    """What customer pages share: the site, the signed-in customer, blocking work off the loop."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.backend = site.backend
        self.config = site.config

    async def who(self, request: Request) -> queries.Customer | None:
        """The customer: the control panel's header (from its proxy only), else the session."""
        header = self.config.trusted_header
        value = request.headers.get(header) if header else None
        if value and auth.from_proxy(request, self.config.trusted_proxies):

            def from_header() -> queries.Customer | None:
                with self.backend.sessions() as session:  # a read on every page view
                    found = auth.account_of(session, value)
                    if found is None or isinstance(found, int):
                        return queries.customer(session, found) if found else None
                with db.transaction(self.backend.sessions) as session:  # first visit only
                    return queries.customer(
                        session, auth.add_account(session, found, self.backend.clock())
                    )

            person = await run_in_threadpool(from_header)
            request.state.via_header = person is not None
        else:
            kept = request.session.get(auth.CUSTOMER_KEY)
            sid = request.session.get(auth.SESSION_ID_KEY)
            person = None
            if isinstance(kept, int):  # and the session not signed out (issue 14.12)
                person = await self._read(
                    lambda s: (
                        queries.customer(s, kept)
                        if web_sessions.alive(s, sid, f"customer:{kept}")
                        else None
                    )
                )
        request.state.customer = person
        return person

    async def need(self, request: Request) -> queries.Customer:
        person = await self.who(request)
        if person is None:
            raise auth.NotSignedIn("/signin")
        return person

    async def _read(self, fn: Any) -> Any:
        def run() -> Any:
            with self.backend.sessions() as session:
                return fn(session)

        return await run_in_threadpool(run)

    async def _write(self, fn: Any) -> Any:
        def run() -> Any:
            with db.transaction(self.backend.sessions) as session:
                return fn(session)

        return await run_in_threadpool(run)

    def _lang(self, request: Request) -> str:
        return pick_locale(request, self.config.locale)
