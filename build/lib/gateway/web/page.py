"""What every page handler shares: the gateway's parts, the settings, the templates.

The customer's and the operators' pages import :class:`Site` from here, and
``site`` (the application) imports them: the imports run one way.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from jinja2 import Environment
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from gateway.web import csrf, i18n
from gateway.web.backend import Backend, WebConfig

SESSION_COOKIE = "helpdesk_session"


def default_root() -> Path:
    """The page's templates and static files, shipped inside the package (package data)."""
    return Path(str(files("gateway.web") / "templates"))


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
