"""The customer's pages: "My tickets", "New ticket", a ticket's page.

Whatever a customer does here is a mail through the intake pipeline
(:mod:`gateway.web.mailer`), so it has exactly the effects of mail: status,
events, notifications, the duplicate and reopen rules. A ticket that is not
the signed-in customer's is answered exactly like one that does not exist.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.notify.faq import match_faq
from gateway.operations.contact import set_by_customer
from gateway.outcome import Delivery, OutcomeKind
from gateway.store import portal, tickets
from gateway.web import csrf, mailer, queries, uploads
from gateway.web.identity import CustomerBase
from gateway.web.page import Site, one_line, plain_text, redirect
from gateway.web.signin import ADDRESS

MAX_SUBJECT = 200
MAX_TEXT = 100_000


def routes(site: Site) -> list[Route]:
    pages = CustomerPages(site)
    return [
        Route("/tickets", pages.my_tickets),
        Route("/tickets/new", pages.new_form, methods=["GET"]),
        Route("/tickets/new", pages.new_post, methods=["POST"]),
        Route("/faq", pages.faq),
        Route("/tickets/{number:id}", pages.ticket),
        Route("/tickets/{number:id}/reply", pages.reply, methods=["POST"]),
        Route("/tickets/{number:id}/close", pages.close, methods=["POST"]),
        Route("/tickets/{number:id}/reopen", pages.reopen, methods=["POST"]),
        Route("/tickets/{number:id}/notify", pages.notify, methods=["POST"]),
        Route("/tickets/{number:id}/files/{file_id:id}", pages.file),
    ]


class CustomerPages(CustomerBase):
    # --- my tickets, new ticket -------------------------------------------------

    async def my_tickets(self, request: Request) -> Response:
        person = await self.need(request)
        lang = self._lang(request)
        rows = await self._read(lambda s: queries.my_tickets(s, person.id, lang))
        return self.site.render(request, "my_tickets.html", tickets=rows)

    async def new_form(self, request: Request) -> Response:
        person = await self.need(request)
        follow_up = _int(request.query_params.get("follow_up"))
        subject = ""
        if follow_up is not None:
            owned = await self._read(lambda s: portal.owns_ticket(s, person.id, follow_up))
            if not owned:
                follow_up = None
            else:
                subject = await self._read(lambda s: tickets.ticket_subject(s, follow_up))
        form = {"subject": subject, "text": "", "notify": True, "notify_address": person.email}
        return self.site.render(
            request, "new_ticket.html", form=form, follow_up=follow_up, errors=[], faq=[]
        )

    def _faq(self, text: str, lang: str) -> list[dict[str, str]]:
        found = match_faq(self.config.faq, text, lang) if text.strip() else []
        return [{"question": e.question, "answer": e.answer, "url": e.url} for e in found]

    async def faq(self, request: Request) -> Response:
        """Up to three FAQ entries for what the customer is typing (progressive JS)."""
        await self.need(request)
        query = request.query_params.get("q", "")[:500]
        return JSONResponse(self._faq(query, self._lang(request)))

    async def new_post(self, request: Request) -> Response:
        person = await self.need(request)
        limit = self.config.max_message_size
        if uploads.too_large(request, limit):
            return self.site.error(request, 413, "files_too_large_title", "files_too_large")
        form = await csrf.checked_form(request)
        try:
            files = await uploads.files_of(form, limit)
        except uploads.TooLarge:
            return self.site.error(request, 413, "files_too_large_title", "files_too_large")
        t = self.site.t(request)
        lang = self._lang(request)
        data = {
            "subject": one_line(str(form.get("subject", "")))[:MAX_SUBJECT],
            "text": plain_text(str(form.get("text", "")))[:MAX_TEXT],
            "notify": form.get("notify") == "on",
            "notify_address": str(form.get("notify_address", "")).strip().lower(),
        }
        follow_up = _int(str(form.get("follow_up", "")))
        if follow_up is not None and not await self._read(
            lambda s: portal.owns_ticket(s, person.id, follow_up)
        ):
            follow_up = None
        errors = [
            t(key)
            for key, wrong in (
                ("subject_required", not data["subject"]),
                ("text_required", not data["text"].strip()),
                (
                    "invalid_address",
                    data["notify"] and not ADDRESS.match(data["notify_address"] or person.email),
                ),
            )
            if wrong
        ]
        if errors:
            return self.site.render(
                request,
                "new_ticket.html",
                400,
                form=data,
                follow_up=follow_up,
                errors=errors,
                faq=self._faq(data["subject"], lang),
            )
        now = self.backend.clock()
        if follow_up is None and form.get("confirmed") != "1" and not files:
            match = await self._read(
                lambda s: queries.open_duplicate(
                    s, person.id, data["subject"], data["text"], self.config, now
                )
            )
            if match is not None:
                return self.site.render(request, "duplicate.html", match=match, form=data)
        if follow_up is not None:  # as a mail to the old ticket: intake links a follow-up
            delivery = mailer.to_ticket(
                self.config, person.email, follow_up, data["subject"], data["text"], now,
                files=files,
            )  # fmt: skip
        else:
            delivery = mailer.new_request(
                self.config,
                person.email,
                data["subject"],
                data["text"],
                now,
                distinct=form.get("confirmed") == "1",
                notify=bool(data["notify"]),
                files=files,
            )
        return await self._submitted(request, person, delivery, data, follow_up, now)

    async def _submitted(
        self,
        request: Request,
        person: queries.Customer,
        delivery: Delivery,
        data: dict[str, Any],
        follow_up: int | None,
        now: Any,
    ) -> Response:
        """The request through intake; where it landed, said on the ticket's page."""
        before = await self._read(lambda s: portal.ticket_numbers(s, person.id))
        number = await self._deliver(delivery)
        if number is None:
            return self.site.error(request, 503, "error_title", "unavailable")
        if number not in before:
            await self._write(lambda s: self._new_ticket_notify(s, number, data, person.email, now))
            if follow_up is not None:
                self.site.flash(request, "follow_up_created", number=number, old=follow_up)
            else:
                self.site.flash(request, "ticket_created", number=number)
        else:
            self.site.flash(request, "added_to", number=number)
        return redirect(f"/tickets/{number}")

    def _new_ticket_notify(
        self, session: Any, number: int, data: dict[str, Any], own: str, now: Any
    ) -> None:
        """The form's other address for a ticket intake just made: it needs confirming first.
        (Off was said to intake itself, so not even the "created" mail was queued.)"""
        if data["notify"] and data["notify_address"] and data["notify_address"] != own:
            set_by_customer(
                session,
                number,
                on=True,
                address=data["notify_address"],
                own_address=own,
                tell=self.config.notices,
                now=now,
            )

    async def _deliver(self, delivery: Delivery) -> int | None:
        """Through intake, committed; the ticket it landed in (None: try again later)."""
        outcome = await self.backend.deliver(delivery)
        if outcome.kind is OutcomeKind.DEFERRED or outcome.ticket is None:
            return None
        return outcome.ticket

    # --- a ticket -------------------------------------------------------------

    async def _owned(self, request: Request) -> tuple[queries.Customer, dict[str, Any]]:
        person = await self.need(request)
        number = request.path_params["number"]
        lang = self._lang(request)
        now, policy = self.backend.clock(), self.config.policy
        page = await self._read(
            lambda s: queries.customer_ticket(s, person.id, number, lang, policy, now)
        )
        if page is None:
            raise HTTPException(404)
        return person, page

    async def ticket(self, request: Request) -> Response:
        _, page = await self._owned(request)
        state, until = queries.ticket_state(page["ticket"], self.config, self.backend.clock())
        return self.site.render(
            request,
            "ticket.html",
            state=state,
            reopen_until=until,
            window_days=self.config.policy.reopen_days,
            **page,
        )

    async def _say(self, request: Request, *, close: bool = False, need_text: bool = True) -> int:
        person, page = await self._owned(request)
        number = page["ticket"]["number"]
        limit = self.config.max_message_size
        if uploads.too_large(request, limit):
            self.site.flash(request, "files_too_large", "error")
            return number
        form = await csrf.checked_form(request)
        text = plain_text(str(form.get("text", "")))[:MAX_TEXT]
        try:
            files = await uploads.files_of(form, limit)
            if need_text and not text.strip() and not files:
                self.site.flash(request, "text_required", "error")
                return number
            delivery = mailer.to_ticket(
                self.config,
                person.email,
                number,
                page["ticket"]["subject"],
                text,
                self.backend.clock(),
                close=close,
                locale=self._lang(request),
                files=files,
            )
        except uploads.TooLarge:
            self.site.flash(request, "files_too_large", "error")
            return number
        landed = await self._deliver(delivery)
        if landed is None:
            self.site.flash(request, "unavailable", "error")
            return number
        return landed

    async def reply(self, request: Request) -> Response:
        return await self._answer(request, "reply_sent")

    async def close(self, request: Request) -> Response:
        landed = await self._say(request, close=True, need_text=False)
        if not request.session.get("flash"):
            self.site.flash(request, "ticket_closed")
        return redirect(f"/tickets/{landed}")

    async def reopen(self, request: Request) -> Response:
        return await self._answer(request, "ticket_reopened")

    async def _answer(self, request: Request, done: str) -> Response:
        """A reply or a reopen: the same mail, told apart only by what the page says after;
        past the reopen window intake made a linked follow-up, and the page goes there."""
        number = request.path_params["number"]
        landed = await self._say(request)
        if landed != number:
            self.site.flash(request, "follow_up_created", number=landed, old=number)
        elif not request.session.get("flash"):
            self.site.flash(request, done)
        return redirect(f"/tickets/{landed}")

    async def notify(self, request: Request) -> Response:
        person, page = await self._owned(request)
        form = await csrf.checked_form(request)
        number = page["ticket"]["number"]
        on = form.get("notify") == "on"
        address = str(form.get("notify_address", "")).strip().lower()[:320]
        if address and not ADDRESS.match(address):
            self.site.flash(request, "invalid_address", "error")
            return redirect(f"/tickets/{number}")
        pending = await run_in_threadpool(
            self.backend.desk.set_customer_notify,
            number,
            on=on,
            address=address,
            own_address=person.email,
        )
        if pending:
            self.site.flash(request, "confirm_sent", address=pending)
        else:
            self.site.flash(request, "settings_saved")
        return redirect(f"/tickets/{number}")

    async def file(self, request: Request) -> Response:
        person = await self.need(request)
        number, file_id = request.path_params["number"], request.path_params["file_id"]
        row = await self._read(lambda s: portal.attachment(s, file_id, customer_id=person.id))
        if row is None or row.ticket_id != number:
            raise HTTPException(404)
        inline = request.query_params.get("preview") == "1"
        return uploads.file_response(row.filename, row.data, row.content_type, inline=inline)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None
