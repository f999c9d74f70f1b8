"""Signing a customer in by a one-time link mailed to a known address (issue 7).

The link is signed, expiring and single-use (:mod:`gateway.web.auth`); opening
it shows a button, because mail scanners follow links but do not press
buttons, so a scanner cannot use a customer's link up.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.store import people, portal, web_sessions
from gateway.web import auth, csrf, queries
from gateway.web.identity import CustomerBase
from gateway.web.page import Site, redirect

ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def routes(site: Site) -> list[Route]:
    pages = SigninPages(site)
    return [
        Route("/", pages.home),
        Route("/signin", pages.signin_form, methods=["GET"]),
        Route("/signin", pages.signin_request, methods=["POST"]),
        Route("/signin/{token}", pages.signin_link, methods=["GET"]),
        Route("/signin/{token}", pages.signin_use, methods=["POST"]),
        Route("/signout", pages.signout, methods=["POST"]),
    ]


class SigninPages(CustomerBase):
    def __init__(self, site: Site) -> None:
        super().__init__(site)
        self.links = auth.SigninLinks(site.config.secret, site.config.signin_lifetime)

    async def home(self, request: Request) -> Response:
        if await self.who(request) is not None:
            return RedirectResponse("/tickets", status_code=303)
        return RedirectResponse("/signin", status_code=303)

    async def signin_form(self, request: Request) -> Response:
        if await self.who(request) is not None:
            return RedirectResponse("/tickets", status_code=303)
        return self.site.render(request, "signin.html", email="")

    async def signin_request(self, request: Request) -> Response:
        """Mail a one-time link to a known customer; the page says the same for anyone,
        so it cannot be used to learn who is a customer."""
        form = await csrf.checked_form(request)
        email = str(form.get("email", "")).strip().lower()[:320]
        lang = self._lang(request)
        now = self.backend.clock()
        requester = f"web:{request.client.host}" if request.client is not None else "web:?"
        held: str | None = None
        if ADDRESS.match(email):

            def send(session: Any) -> str | None:
                person = people.find_customer(session, email)
                if person is None:
                    return None
                link = f"{self.config.base_url}/signin/{self.links.make(person.id, now)}"
                return queries.send_signin_link(
                    session, person.email, link, lang, self.config, now, requester
                )

            held = await self._write(send)
        minutes = int(self.config.signin_lifetime.total_seconds() // 60)
        # Honest (issue 13): when the link was held back by the limit, the page says so
        # rather than "a link is on its way".
        return self.site.render(
            request, "signin_sent.html", email=email, minutes=minutes, held=held is not None
        )

    def _bad_link(self, request: Request, why: str) -> Response:
        key = {"expired": "link_expired", "used": "link_used"}.get(why, "link_bad")
        return self.site.error(request, 400, "bad_link_title", key)

    async def signin_link(self, request: Request) -> Response:
        """Show a button, not sign in: mail scanners open links, a person presses buttons."""
        try:
            customer_id, nonce = self.links.read(request.path_params["token"], self.backend.clock())
        except auth.LinkInvalid as exc:
            return self._bad_link(request, str(exc))
        used = await self._read(lambda s: portal.signin_used(s, nonce))
        person = await self._read(lambda s: queries.customer(s, customer_id))
        if used or person is None:
            return self._bad_link(request, "used" if used else "bad")
        return self.site.render(
            request, "signin_confirm.html", token=request.path_params["token"], email=person.email
        )

    async def signin_use(self, request: Request) -> Response:
        await csrf.checked_form(request)
        now = self.backend.clock()
        try:
            customer_id, nonce = self.links.read(request.path_params["token"], now)
        except auth.LinkInvalid as exc:
            return self._bad_link(request, str(exc))
        fresh = await self._write(lambda s: portal.use_signin(s, nonce, customer_id, now))
        if not fresh:
            return self._bad_link(request, "used")
        csrf.renew(request)
        sid = await self._write(lambda s: web_sessions.begin(s, f"customer:{customer_id}", now))
        request.session[auth.CUSTOMER_KEY] = customer_id
        request.session[auth.SESSION_ID_KEY] = sid
        return redirect("/tickets")

    async def signout(self, request: Request) -> Response:
        await csrf.checked_form(request)
        sid, now = request.session.get(auth.SESSION_ID_KEY), self.backend.clock()
        await self._write(lambda s: web_sessions.end(s, sid, now))
        csrf.renew(request)
        self.site.flash(request, "signed_out")
        return redirect("/signin")
