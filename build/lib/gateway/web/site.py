"""The Starlette application: routes, sessions, rendering, and the human error pages.

:func:`make_app` builds it from what ``app`` hands in. Rendering is Jinja2
with autoescape on for every template and ``StrictUndefined`` (a template
asking for a name the page did not give fails in the tests, not in front of a
customer). Every error — a missing page, a stale form, a bug, a database that
went away — becomes a page in the visitor's language; never a traceback.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.web import auth, csrf, customer, operator, signin
from gateway.web.backend import Backend, WebConfig
from gateway.web.page import SESSION_COOKIE, Site, default_root

log = logging.getLogger("gateway.web")


class SecurityHeaders:
    """Headers on every response: no sniffing, no framing by others, no referrer leaks."""

    HEADERS = (
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (
            b"content-security-policy",
            b"default-src 'self'; img-src 'self' data:; frame-ancestors 'self'; "
            b"form-action 'self'; base-uri 'none'",
        ),
        (b"cache-control", b"no-store"),
    )

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def make_app(backend: Backend, config: WebConfig, root: Path | None = None) -> Starlette:
    """The support page as an ASGI application."""
    root = root or default_root()
    env = Environment(
        loader=FileSystemLoader(root),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    site = Site(backend, config, env)
    routes = [
        *signin.routes(site),
        *customer.routes(site),
        *operator.routes(site),
        Mount("/static", StaticFiles(directory=root / "static"), name="static"),
    ]
    session_key = hmac.new(config.secret, b"helpdesk web session", hashlib.sha256).hexdigest()
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(
                SessionMiddleware,
                secret_key=session_key,
                session_cookie=SESSION_COOKIE,
                max_age=int(config.session_lifetime.total_seconds()),
                same_site="lax",
                https_only=config.secure_cookie,
            ),
        ],
        exception_handlers=_error_pages(site),
    )


def _error_pages(site: Site) -> dict:
    """Every error a page in the visitor's language; never a traceback."""

    async def not_found(request: Request, exc: Exception) -> Response:
        return site.error(request, 404, "not_found_title", "not_found")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return await not_found(request, exc)
        return site.error(request, exc.status_code, "bad_request", "error_text")

    async def sign_in_first(request: Request, exc: Exception) -> Response:
        return RedirectResponse(str(exc.args[0]) if exc.args else "/signin", status_code=303)

    async def csrf_failed(request: Request, exc: Exception) -> Response:
        return site.error(request, 403, "forbidden_title", "csrf_failed")

    async def unavailable(request: Request, exc: Exception) -> Response:
        log.warning("support page: the database is unavailable: %s", exc)
        return site.error(request, 503, "error_title", "unavailable")

    async def crashed(request: Request, exc: Exception) -> Response:
        log.error("support page: %s %s failed", request.method, request.url.path, exc_info=exc)
        return site.error(request, 500, "error_title", "error_text")

    return {
        404: not_found,
        HTTPException: http_error,
        csrf.CsrfFailed: csrf_failed,
        auth.NotSignedIn: sign_in_first,
        OperationalError: unavailable,
        Exception: crashed,
    }


__all__ = ["make_app"]
