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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from sqlalchemy.exc import OperationalError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.web import auth, csrf, i18n
from gateway.web.backend import Backend, WebConfig

log = logging.getLogger("gateway.web")

SESSION_COOKIE = "helpdesk_session"


def default_root() -> Path:
    """``templates/web`` of the project, beside the e-mail templates."""
    return Path(__file__).resolve().parents[2] / "templates" / "web"


@dataclass
class Site:
    """What every page handler needs: the gateway, the settings and the templates."""

    backend: Backend
    config: WebConfig
    env: Environment

    def render(
        self, request: Request, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        lang = _locale(request, self.config.locale)
        session = request.scope.get("session")
        flashes = session.pop("flash", []) if session is not None else []
        token = csrf.token(request) if session is not None else ""
        base = {
            "lang": lang,
            "t": i18n.translator(lang),
            "csrf_field": lambda: (
                Markup('<input type="hidden" name="csrf" value="%s">') % escape(token)
            ),
            "area": "op" if request.url.path.startswith("/op") else "customer",
            "customer": getattr(request.state, "customer", None),
            "operator": getattr(request.state, "operator", None),
            "via_header": getattr(request.state, "via_header", False),
            "flashes": flashes,
        }
        html = self.env.get_template(name).render({**base, **context})
        return HTMLResponse(html, status_code=status)

    def error(self, request: Request, status: int, title: str, text: str) -> HTMLResponse:
        t = self.t(request)
        return self.render(
            request, "error.html", status, heading=t(title), message=t(text), back=None
        )

    def t(self, request: Request) -> Any:
        return i18n.translator(_locale(request, self.config.locale))

    def flash(self, request: Request, key: str, kind: str = "ok", **values: object) -> None:
        text = self.t(request)(key, **values)
        request.session["flash"] = [*request.session.get("flash", []), (kind, text)]


def _locale(request: Request, default: str) -> str:
    if request.scope.get("session") is None:
        return default if default in i18n.LOCALES else "ru"
    return i18n.pick_locale(request, default)


def redirect(url: str) -> RedirectResponse:
    """After a POST: 303, so a reload does not post again."""
    return RedirectResponse(url, status_code=303)


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
    # The page modules import Site from here: imported when the app is built, not above.
    from gateway.web import customer, operator, signin

    root = root or default_root()
    env = Environment(
        loader=FileSystemLoader(root),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    site = Site(backend, config, env)

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
        exception_handlers={
            404: not_found,
            HTTPException: http_error,
            csrf.CsrfFailed: csrf_failed,
            auth.NotSignedIn: sign_in_first,
            OperationalError: unavailable,
            Exception: crashed,
        },
    )


__all__ = ["Route", "Site", "make_app", "redirect"]
