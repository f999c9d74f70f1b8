"""What every page handler shares: the gateway's parts, the settings, the templates.

The customer's and the operators' pages import :class:`Site` from here, and
``site`` (the application) imports them: the imports run one way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment
from markupsafe import Markup, escape
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from gateway.web import csrf, i18n
from gateway.web.backend import Backend, WebConfig

# Issue 14.12: what a form may put into a subject line or a text, whatever a browser sends.
_NOT_IN_A_LINE = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]+")


def one_line(value: str) -> str:
    """A subject or reason: CR, LF, U+2028 and other controls become spaces (a header
    cannot hold them; they gave a 500), runs of white space one space."""
    return " ".join(_NOT_IN_A_LINE.sub(" ", value).split())


def plain_text(value: str) -> str:
    """A message text without NUL, which no mail and no PostgreSQL text can carry."""
    return value.replace("\x00", "")


class _RowNumber(Convertor[int]):
    """``{x:id}``: a ticket or row number as the database can hold it; a longer one is no
    route at all, so 404 instead of an overflow's 500 (issue 14.12)."""

    regex = "[0-9]{1,9}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", _RowNumber())

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
            "max_size": f"{self.config.max_message_size / 1024 / 1024:.0f} MB",
            "lang_url": lambda code: _lang_url(request, code),
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


def _lang_url(request: Request, code: str) -> str:
    """This page in another language, its query (search, filters, page) kept (issue 15)."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return "?" + urlencode([*query, ("lang", code)])


def redirect(url: str) -> RedirectResponse:
    """After a POST: 303, so a reload does not post again."""
    return RedirectResponse(url, status_code=303)
