"""The operators' pages: sign-in, the queue, held mails, the quarantine, a ticket.

Every button is the same call as the terminal's ``helpdesk ticket …`` verb
(``app`` hands in ``operator_action``, ``merge``, ``assign``, ``decide_held``,
``retry_quarantined``), so the page, the mail commands and the CLI cannot drift
apart. A refusal (a closed ticket cannot be taken, …) is shown as the CLI's
sentence.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway import intake
from gateway.desk.model import Status
from gateway.operations import Refused
from gateway.outcome import Outcome, OutcomeKind
from gateway.store import db, portal, web_sessions
from gateway.web import auth, csrf, lists, queries, uploads, words
from gateway.web.i18n import pick_locale
from gateway.web.page import Site, one_line, plain_text, redirect

# The verbs of a ticket's page → the action of operations.tickets (as `helpdesk ticket VERB`).
SIMPLE = {"reply": "reply", "note": "note", "take": "take", "close": "close"}
# Buttons that cannot be undone by the next click ask "are you sure" (a required checkbox).
CONFIRMED = frozenset({"close", "admin-close", "merge"})
SETTABLE = (Status.AWAITING_OPERATOR, Status.IN_PROGRESS, Status.AWAITING_CUSTOMER)


def routes(site: Site) -> list[Route]:
    pages = OperatorPages(site)
    return [
        Route("/op/login", pages.login_form, methods=["GET"]),
        Route("/op/login", pages.login, methods=["POST"]),
        Route("/op/signout", pages.signout, methods=["POST"]),
        Route("/op", pages.queue),
        Route("/op/held", pages.held),
        Route("/op/held/{id:id}/{decision:str}", pages.decide_held, methods=["POST"]),
        Route("/op/quarantine", pages.quarantine),
        Route("/op/quarantine/{id:id}/retry", pages.retry, methods=["POST"]),
        Route("/op/tickets/{number:id}", pages.ticket),
        Route("/op/tickets/{number:id}/files/{file_id:id}", pages.file),
        Route("/op/tickets/{number:id}/{verb:str}", pages.act, methods=["POST"]),
    ]


class OperatorPages:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.backend = site.backend
        self.throttle = auth.LoginThrottle()

    async def need(self, request: Request) -> str:
        """The signed-in operator; the session must still be open (issue 14.12)."""
        return await auth.signed_in_operator(request, self._read)

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
        return pick_locale(request, self.site.config.locale)

    # --- sign-in ------------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        return self.site.render(request, "op_login.html", error=None, login="")

    async def login(self, request: Request) -> Response:
        """The submission listener's credentials, checked (scrypt) off the event loop."""
        form = await csrf.checked_form(request)
        login = str(form.get("login", "")).strip()[:320]
        password = str(form.get("password", ""))[:1024]
        t = self.site.t(request)
        client = request.client.host if request.client else None
        who = await run_in_threadpool(self._check, login, password, client)
        if isinstance(who, timedelta):
            minutes = max(1, int(who.total_seconds() // 60) + 1)
            error = t("op_throttled", minutes=minutes)
            return self.site.render(request, "op_login.html", 429, error=error, login=login)
        if who is None:
            return self.site.render(
                request, "op_login.html", 401, error=t("op_bad_login"), login=login
            )
        csrf.renew(request)
        now = self.backend.clock()
        sid = await self._write(lambda s: web_sessions.begin(s, f"operator:{who}", now))
        request.session[auth.OPERATOR_KEY] = who
        request.session[auth.SESSION_ID_KEY] = sid
        return redirect("/op")

    def _check(self, login: str, password: str, client: str | None) -> str | timedelta | None:
        """The shared throttle (issue 14.9), else this process's own (a page without it)."""
        logins = self.backend.logins
        if logins is not None:
            return logins.web(login, password, client)
        now = self.backend.clock()
        wait = self.throttle.blocked_for(login, now)
        if wait is not None:
            return wait
        who = self.backend.desk.authenticate(login, password)
        if who is None:
            self.throttle.failed(login, now)
        else:
            self.throttle.succeeded(login)
        return who

    async def signout(self, request: Request) -> Response:
        await csrf.checked_form(request)
        sid, now = request.session.get(auth.SESSION_ID_KEY), self.backend.clock()
        await self._write(lambda s: web_sessions.end(s, sid, now))
        csrf.renew(request)
        return redirect("/op/login")

    # --- lists --------------------------------------------------------------------

    async def render(self, request: Request, name: str, **context: Any) -> Response:
        """An operator's page, with the held and quarantine counts in its header."""
        counts = await self._read(lists.header_counts)
        return self.site.render(request, name, inbox=counts, **context)

    async def queue(self, request: Request) -> Response:
        me = await self.need(request)
        lang = self._lang(request)
        params = lists.QueueParams.parse(request.query_params)
        page = await self._read(lambda s: lists.queue(s, params, me, lang))
        return await self.render(request, "op_queue.html", q=params, **page)

    async def held(self, request: Request) -> Response:
        await self.need(request)
        return await self.render(request, "op_held.html", held=await self._read(queries.held))

    async def quarantine(self, request: Request) -> Response:
        await self.need(request)
        rows = await self._read(queries.quarantine)
        return await self.render(request, "op_quarantine.html", rows=rows)

    async def decide_held(self, request: Request) -> Response:
        me = await self.need(request)
        await csrf.checked_form(request)
        decision = request.path_params["decision"]
        if decision not in ("accept", "reject"):
            raise HTTPException(404)
        await self._run(
            request,
            self.backend.desk.decide_held,
            request.path_params["id"],
            me,
            accept=decision == "accept",
        )
        return redirect("/op/held")

    async def retry(self, request: Request) -> Response:
        await self.need(request)
        await csrf.checked_form(request)
        try:
            outcome = await run_in_threadpool(self._retry, request.path_params["id"])
        except Refused as exc:
            self._flash_text(request, "error", words.sentence(str(exc), self._lang(request)))
        else:
            # Only a mail that is now stored is a success; parsed and quarantined again is
            # a failure, in red, with the parser's reason (issue 15).
            t, raw_id = self.site.t(request), request.path_params["id"]
            if outcome.kind in (OutcomeKind.STORED, OutcomeKind.DUPLICATE):
                self._flash_text(request, "ok", t("retry_stored", id=raw_id))
            else:
                reason = outcome.detail or outcome.kind.value
                self._flash_text(request, "error", t("retry_failed", id=raw_id, reason=reason))
        return redirect("/op/quarantine")

    def _retry(self, raw_id: int) -> Outcome:
        b = self.backend
        return intake.retry_quarantined(b.sessions, raw_id, b.intake, b.clock())

    # --- a ticket -------------------------------------------------------------

    async def ticket(self, request: Request) -> Response:
        await self.need(request)
        lang = self._lang(request)
        number = request.path_params["number"]
        now, policy = self.backend.clock(), self.site.config.policy
        page = await self._read(lambda s: queries.operator_ticket(s, number, lang, policy, now))
        if page is None:
            raise HTTPException(404)
        settable = [{"value": s.value, "label": s.operator_label(lang)} for s in SETTABLE]
        return await self.render(request, "op_ticket.html", settable=settable, **page)

    async def file(self, request: Request) -> Response:
        await self.need(request)
        number, file_id = request.path_params["number"], request.path_params["file_id"]
        row = await self._read(lambda s: portal.attachment(s, file_id, customer_id=None))
        if row is None or row.ticket_id != number:
            raise HTTPException(404)
        inline = request.query_params.get("preview") == "1"
        return uploads.file_response(row.filename, row.data, row.content_type, inline=inline)

    async def act(self, request: Request) -> Response:
        """One button of the ticket's page: the CLI verb of the same name."""
        me = await self.need(request)
        number, verb = request.path_params["number"], request.path_params["verb"]
        if verb == "reply" and uploads.too_large(request, self.site.config.max_message_size):
            self.site.flash(request, "files_too_large", "error")
            return redirect(f"/op/tickets/{number}")
        form = await csrf.checked_form(request)
        text = plain_text(str(form.get("text", "")))[:100_000]
        b = self.backend.desk
        if verb in CONFIRMED and form.get("confirm") != "yes":
            await form.close()
            self._flash_text(request, "error", self.site.t(request)("confirm_needed"))
            return redirect(f"/op/tickets/{number}")
        if verb == "reply":
            await self._reply(request, form, number, me, text)
        elif verb in SIMPLE:
            done = await self._run(request, b.act, number, me, SIMPLE[verb], text=text)
        elif verb == "status":
            done = await self._run(
                request, b.act, number, me, "status", status=str(form.get("status"))
            )
        elif verb == "admin-close":
            done = await self._run(
                request,
                b.act,
                number,
                me,
                "admin_close",
                reason=one_line(str(form.get("reason", "")))[:2000],
            )
        elif verb == "assign":
            done = await self._run(request, b.assign, number, str(form.get("assignee", "")), me)
        elif verb == "merge":
            into = str(form.get("into", "")).strip().lstrip("#")
            if not into.isdigit() or len(into) > 9:
                self._flash_text(request, "error", self.site.t(request)("bad_request"))
                return redirect(f"/op/tickets/{number}")
            done = await self._run(request, b.merge, number, int(into), me)
            if done is not None:
                return redirect(f"/op/tickets/{into}")
        else:
            raise HTTPException(404)
        return redirect(f"/op/tickets/{number}")

    async def _reply(
        self, request: Request, form: FormData, number: int, me: str, text: str
    ) -> None:
        """A reply with its files (issue 15), then the status chosen beside it.

        The files go to the customer attached to their mail, so the limit is the mail's
        (``HELPDESK_MAX_MESSAGE_SIZE``): files and text as they would be encoded in it."""
        limit, b = self.site.config.max_message_size, self.backend.desk
        try:
            files = await uploads.files_of(form, limit)
            encoded = sum(len(f.data) for f in files) * 4 // 3 + len(text.encode())
            if encoded > limit:
                raise uploads.TooLarge
        except uploads.TooLarge:
            self.site.flash(request, "files_too_large", "error")
            return
        kept = [(f.filename, f.content_type, f.data) for f in files]
        done = await self._run(request, b.act, number, me, "reply", text=text, files=kept)
        then = str(form.get("then", "awaiting_customer"))
        if done is not None and then == "close":
            await self._run(request, b.act, number, me, "close")
        elif done is not None and then == Status.IN_PROGRESS.value:
            await self._run(request, b.act, number, me, "status", status=then)

    async def _run(self, request: Request, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run an action in a worker thread; its refusal becomes the page's message."""
        try:
            result = await run_in_threadpool(fn, *args, **kwargs)
        except Refused as exc:
            self._flash_text(request, "error", words.sentence(str(exc), self._lang(request)))
            return None
        self.site.flash(request, "done")
        return result

    def _flash_text(self, request: Request, kind: str, text: str) -> None:
        request.session["flash"] = [*request.session.get("flash", []), (kind, text)]
