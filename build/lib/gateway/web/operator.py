"""The operators' pages: sign-in, the queue, held mails, the quarantine, a ticket.

Every button is the same call as the terminal's ``helpdesk ticket …`` verb
(``app`` hands in ``operator_action``, ``merge``, ``assign``, ``decide_held``,
``retry_quarantined``), so the page, the mail commands and the CLI cannot drift
apart. A refusal (a closed ticket cannot be taken, …) is shown as the CLI's
sentence.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway import intake
from gateway.desk.model import OPEN_STATUSES, Status
from gateway.operations import Refused
from gateway.outcome import Outcome
from gateway.store import portal
from gateway.web import auth, csrf, queries
from gateway.web.customer import attachment_response
from gateway.web.i18n import pick_locale
from gateway.web.page import Site, redirect

# The verbs of a ticket's page → the action of operations.tickets (as `helpdesk ticket VERB`).
SIMPLE = {"reply": "reply", "note": "note", "take": "take", "close": "close"}
SETTABLE = (Status.AWAITING_OPERATOR, Status.IN_PROGRESS, Status.AWAITING_CUSTOMER)


def routes(site: Site) -> list[Route]:
    pages = OperatorPages(site)
    return [
        Route("/op/login", pages.login_form, methods=["GET"]),
        Route("/op/login", pages.login, methods=["POST"]),
        Route("/op/signout", pages.signout, methods=["POST"]),
        Route("/op", pages.queue),
        Route("/op/held", pages.held),
        Route("/op/held/{id:int}/{decision:str}", pages.decide_held, methods=["POST"]),
        Route("/op/quarantine", pages.quarantine),
        Route("/op/quarantine/{id:int}/retry", pages.retry, methods=["POST"]),
        Route("/op/tickets/{number:int}", pages.ticket),
        Route("/op/tickets/{number:int}/files/{file_id:int}", pages.file),
        Route("/op/tickets/{number:int}/{verb:str}", pages.act, methods=["POST"]),
    ]


class OperatorPages:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.backend = site.backend
        self.throttle = auth.LoginThrottle()

    def need(self, request: Request) -> str:
        who = request.session.get(auth.OPERATOR_KEY)
        if not isinstance(who, str) or not who:
            raise auth.NotSignedIn("/op/login")
        request.state.operator = who
        return who

    async def _read(self, fn: Any) -> Any:
        def run() -> Any:
            with self.backend.sessions() as session:
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
        now = self.backend.clock()
        wait = self.throttle.blocked_for(login, now)
        if wait is not None:
            minutes = max(1, int(wait.total_seconds() // 60) + 1)
            error = t("op_throttled", minutes=minutes)
            return self.site.render(request, "op_login.html", 429, error=error, login=login)
        who = await run_in_threadpool(self.backend.desk.authenticate, login, password)
        if who is None:
            self.throttle.failed(login, now)
            return self.site.render(
                request, "op_login.html", 401, error=t("op_bad_login"), login=login
            )
        self.throttle.succeeded(login)
        csrf.renew(request)
        request.session[auth.OPERATOR_KEY] = who
        return redirect("/op")

    async def signout(self, request: Request) -> Response:
        await csrf.checked_form(request)
        csrf.renew(request)
        return redirect("/op/login")

    # --- lists --------------------------------------------------------------------

    async def queue(self, request: Request) -> Response:
        me = self.need(request)
        lang = self._lang(request)
        status = request.query_params.get("status", "")
        if status not in {s.value for s in OPEN_STATUSES}:
            status = ""
        assignee = request.query_params.get("assignee", "")[:12]
        page = await self._read(lambda s: queries.queue(s, status, assignee, lang, me))
        statuses = [{"value": s.value, "label": s.label(lang)} for s in SETTABLE]
        return self.site.render(
            request,
            "op_queue.html",
            statuses=statuses,
            filter_status=status,
            filter_assignee=assignee,
            **page,
        )

    async def held(self, request: Request) -> Response:
        self.need(request)
        return self.site.render(request, "op_held.html", held=await self._read(queries.held))

    async def quarantine(self, request: Request) -> Response:
        self.need(request)
        rows = await self._read(queries.quarantine)
        return self.site.render(request, "op_quarantine.html", rows=rows)

    async def decide_held(self, request: Request) -> Response:
        me = self.need(request)
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
        self.need(request)
        await csrf.checked_form(request)
        try:
            outcome = await run_in_threadpool(self._retry, request.path_params["id"])
        except Refused as exc:
            self._flash_text(request, "error", str(exc))
        else:
            self._flash_text(request, "ok", f"{outcome.kind.value}: {outcome.detail}")
        return redirect("/op/quarantine")

    def _retry(self, raw_id: int) -> Outcome:
        b = self.backend
        return intake.retry_quarantined(b.sessions, raw_id, b.intake, b.clock())

    # --- a ticket -------------------------------------------------------------

    async def ticket(self, request: Request) -> Response:
        self.need(request)
        lang = self._lang(request)
        number = request.path_params["number"]
        now, policy = self.backend.clock(), self.site.config.policy
        page = await self._read(lambda s: queries.operator_ticket(s, number, lang, policy, now))
        if page is None:
            raise HTTPException(404)
        settable = [{"value": s.value, "label": s.label(lang)} for s in SETTABLE]
        return self.site.render(request, "op_ticket.html", settable=settable, **page)

    async def file(self, request: Request) -> Response:
        self.need(request)
        number, file_id = request.path_params["number"], request.path_params["file_id"]
        row = await self._read(lambda s: portal.attachment(s, file_id, customer_id=None))
        if row is None or row.ticket_id != number:
            raise HTTPException(404)
        return attachment_response(row.filename, row.data)

    async def act(self, request: Request) -> Response:
        """One button of the ticket's page: the CLI verb of the same name."""
        me = self.need(request)
        form = await csrf.checked_form(request)
        number, verb = request.path_params["number"], request.path_params["verb"]
        text = str(form.get("text", ""))[:100_000]
        b = self.backend.desk
        if verb in SIMPLE:
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
                reason=str(form.get("reason", "")).strip()[:2000],
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

    async def _run(self, request: Request, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run an action in a worker thread; its refusal becomes the page's message."""
        try:
            result = await run_in_threadpool(fn, *args, **kwargs)
        except Refused as exc:
            self._flash_text(request, "error", str(exc))
            return None
        self.site.flash(request, "done")
        return result

    def _flash_text(self, request: Request, kind: str, text: str) -> None:
        request.session["flash"] = [*request.session.get("flash", []), (kind, text)]
