"""CSRF protection: one random token per browser session, in every POST form.

The token lives in the signed session cookie and is compared with the form's
``csrf`` field in constant time. Every POST handler reads its form through
:func:`checked_form`, so a handler cannot forget the check; a missing or
wrong token raises :class:`CsrfFailed`, which the site turns into a 403 page
that tells a person what to do. SameSite=Lax on the cookie is a second wall,
not the only one.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.datastructures import FormData
from starlette.requests import Request

SESSION_KEY = "csrf"
FIELD = "csrf"


class CsrfFailed(Exception):
    """A POST without this session's token: refused with 403."""


def token(request: Request) -> str:
    """This session's token, made on first use (a GET page that shows a form)."""
    value = request.session.get(SESSION_KEY)
    if not isinstance(value, str) or not value:
        value = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = value
    return value


def renew(request: Request) -> None:
    """A new session after signing in or out: the old token and everything else is gone,
    but the language the visitor chose."""
    lang = request.session.get("lang")
    request.session.clear()
    if lang:
        request.session["lang"] = lang
    token(request)


async def checked_form(request: Request) -> FormData:
    """The POSTed form, after its token matched the session's."""
    form = await request.form()
    sent = form.get(FIELD)
    expected = request.session.get(SESSION_KEY)
    if not (
        isinstance(sent, str)
        and isinstance(expected, str)
        and expected
        and hmac.compare_digest(sent.encode(), expected.encode())
    ):
        raise CsrfFailed
    return form
