"""One mail, atomically: the intake pipeline of DESIGN §2.

The steps, in order (each adds a line to the message's decision trace, which
``helpdesk ticket show`` prints so an operator can tell why a mail landed where
it did):

    ========  ==============================================================
    parse     raw bytes → ParsedMail; unreadable → quarantine (raw kept)
    classify  human, auto-reply, bounce, bulk, or our own mail coming back
    identify  From → operator, customer, or unknown (guest or refused)
    dedup     same idempotency key (Message-ID, else hash of the bytes) → no effect
    thread    signed reply address, In-Reply-To/References, subject token, else new
    guard     a stranger in someone's ticket is held, never appended silently
    intent    #close and nudges, read from the new text only (quotes stripped)
    decide    desk.machine.decide(state, event, policy, now)
    apply     ticket, message, attachments, thread ids, events — one transaction
    ========  ==============================================================

``prepare`` (parse) is CPU only and may run in another process; ``ingest``
runs inside the caller's transaction and never commits: the caller commits
once per mail, or once per group with a savepoint per mail, and only then
answers 250 (guarantee 1).
"""

from __future__ import annotations

import hashlib
import json
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from gateway import actions, dkim_trust, operator_intake
from gateway.desk import dedup
from gateway.desk.dedup import Match
from gateway.desk.machine import decide
from gateway.desk.model import (
    OPEN_STATUSES,
    AuthorKind,
    CustomerWrote,
    Decision,
    Disposition,
    Flag,
    Policy,
    TicketState,
)
from gateway.desk.thread import ThreadClues, author_kind, choose_ticket
from gateway.mail import reply_address
from gateway.mail.body import new_text
from gateway.mail.classify import Classification, classify
from gateway.mail.dsn import hard_failure
from gateway.mail.intent import find_nudge, parse_commands
from gateway.mail.parse import parse
from gateway.mail.parsed import ParsedMail, UnparseableMail
from gateway.mail.subject import find_token, format_token, thread_subject
from gateway.outcome import Delivery, Effect, Outcome, OutcomeKind
from gateway.store import outbox, repo
from gateway.store.notices import (
    NoticeRules,
    enqueue_notices,
    notify,
    notify_operators,
    notify_stranger,
    notify_team,
)

OPEN_VALUES = frozenset(s.value for s in OPEN_STATUSES)
MAX_KEY = 380
IMPORTED = "import"  # Delivery.source of ``helpdesk import``: history, not live mail
FRESH_CHARS = 8000
ECHO_CHARS = 2000


@dataclass(frozen=True, slots=True)
class IntakeRules:
    """The settings intake reads, handed in by ``app`` (only it reads config)."""

    support: str
    domain: str
    token_format: str = "[#{number}]"
    policy: Policy = field(default_factory=Policy)
    unknown_senders: str = "guest"
    register_hint: str = ""
    locale: str = "ru"
    own_id_domains: frozenset[str] = frozenset()
    notices: NoticeRules | None = None  # None: no notifications (e.g. a dry run)
    operator_dkim: bool = True  # trust a DKIM-signed operator reply to their own address
    dkim_keys: tuple[tuple[str, str], ...] | None = None  # pinned keys; None = DNS
    # Reads our signed reply addresses when ``notices`` is None (an import sends nothing,
    # but a mail to support+t12.sig@ must still thread into #12).
    secret: bytes | None = field(default=None, repr=False)

    def serves(self, address: str) -> bool:
        """True for the support address and its +subaddresses (reply addresses)."""
        local, _, domain = address.strip().lower().rpartition("@")
        s_local, _, s_domain = self.support.rpartition("@")
        return domain == s_domain and (local == s_local or local.startswith(s_local + "+"))


@dataclass(frozen=True, slots=True)
class Prepared:
    """A delivery after the CPU-only step: parsed (or why not) and keyed."""

    delivery: Delivery
    parsed: ParsedMail | None
    parse_error: str | None
    idem_key: str
    # The new words with quotes and signature cut (``mail.body.new_text``), when the
    # caller could afford it off the writer (``helpdesk import``'s parse workers);
    # None: intake cuts them itself where it needs them.
    cut: str | None = None

    def new_words(self, text: str) -> str:
        """``new_text(text)``, from the precomputed cut when it was made of this text."""
        if self.cut is not None and self.parsed is not None and text == self.parsed.text:
            return self.cut
        return new_text(text)


def idempotency_key(parsed: ParsedMail | None, data: bytes) -> str:
    """Message-ID when there is one (guarantee 3), else the hash of the bytes."""
    if parsed is not None and parsed.message_id:
        mid = parsed.message_id
        if len(mid) <= MAX_KEY:
            return "mid:" + mid
        return "midh:" + hashlib.sha256(mid.encode("utf-8", "surrogateescape")).hexdigest()
    return "sha256:" + hashlib.sha256(data).hexdigest()


CUT_IF_REPLY = "if reply"


def prepare(delivery: Delivery, *, cut: bool | str = False) -> Prepared:
    """Parse and key; with ``cut``, also cut the quotes of a text short enough to be read
    whole (the costliest CPU step, done here when this runs in a worker process), or with
    ``CUT_IF_REPLY`` only of a mail that answers another, where intake will read them."""
    try:
        parsed: ParsedMail | None = parse(delivery.data)
        error = None
    except UnparseableMail as exc:
        parsed, error = None, str(exc) or "not a mail message"
    if cut == CUT_IF_REPLY:
        cut = parsed is not None and bool(parsed.in_reply_to or parsed.references)
    cut_text = None
    if cut and parsed is not None and len(parsed.text) <= FRESH_CHARS:
        cut_text = new_text(parsed.text)
    return Prepared(delivery, parsed, error, idempotency_key(parsed, delivery.data), cut_text)


def sender_of(prep: Prepared) -> tuple[str, str]:
    """(address, display name): the From header, else the envelope sender."""
    if prep.parsed is not None and prep.parsed.from_ is not None and prep.parsed.from_.key:
        return prep.parsed.from_.key, prep.parsed.from_.name
    return (prep.delivery.mail_from or "").strip().lower(), ""


def check_sender(session: Session, address: str, rules: IntakeRules) -> Outcome | None:
    """The refusal that can be decided at RCPT time, before any data (no backscatter)."""
    if rules.unknown_senders != "refuse" or not address:
        return None
    address = address.lower()
    if any(repo.find_people(session, address)):
        return None
    return Outcome(OutcomeKind.UNKNOWN_SENDER, rules.register_hint, address=address)


def ingest(session: Session, prep: Prepared, rules: IntakeRules, now: datetime) -> Outcome:
    """Store one mail and everything it causes, in the caller's transaction."""
    d = prep.delivery
    if prep.parsed is None:
        raw_id = repo.store_raw(
            session,
            idem_key=prep.idem_key,
            received_at=now,
            source=d.source,
            mail_from=d.mail_from,
            rcpt_tos=d.rcpt_tos,
            data=d.data,
            state="quarantined",
            error=f"cannot parse: {prep.parse_error}",
        )
        if raw_id is None:
            return Outcome(OutcomeKind.DUPLICATE, "already stored")
        return Outcome(
            OutcomeKind.QUARANTINED,
            f"cannot parse: {prep.parse_error}; kept in quarantine as raw mail {raw_id}",
        )

    sender, name = sender_of(prep)
    customer, operator = repo.find_people(session, sender)
    verdict = classify(prep.parsed, d.mail_from, rules.own_id_domains)
    if (
        not verdict.automatic
        and customer is None
        and operator is None
        and rules.unknown_senders == "refuse"
    ):
        return Outcome(OutcomeKind.UNKNOWN_SENDER, rules.register_hint, address=sender)

    raw_id = repo.store_raw(
        session,
        idem_key=prep.idem_key,
        received_at=now,
        source=d.source,
        mail_from=d.mail_from,
        rcpt_tos=d.rcpt_tos,
        data=d.data,
    )
    if raw_id is None:
        return Outcome(OutcomeKind.DUPLICATE, "already stored")
    return process(
        session,
        prep,
        raw_id,
        rules,
        now,
        verdict=verdict,
        sender=(sender, name),
        people=(customer, operator),
    )


def process(
    session: Session,
    prep: Prepared,
    raw_id: int,
    rules: IntakeRules,
    now: datetime,
    *,
    verdict: Classification | None = None,
    sender: tuple[str, str] | None = None,
    people: tuple[repo.Person | None, repo.Person | None] | None = None,
) -> Outcome:
    """Thread, decide and apply a parsed mail whose raw bytes are stored as ``raw_id``."""
    mail = prep.parsed
    assert mail is not None
    address, name = sender or sender_of(prep)
    verdict = verdict or classify(mail, prep.delivery.mail_from, rules.own_id_domains)
    trace: list[str] = [verdict.reason]

    addressed = _addressed(prep, rules, address)
    trace.extend(addressed.trace)
    if addressed.bounce_of is not None:
        return _bounce(session, prep, raw_id, addressed.bounce_of, trace, now)
    if addressed.confirms is not None:
        return _confirm(session, prep, raw_id, addressed.confirms, address, trace, now)

    if people is None:
        people = repo.find_people(session, address)
    customer, operator = people
    if prep.delivery.source == IMPORTED and operator is None and rules.serves(address):
        reason = (
            f"sent from {address}, our own address, by no known operator: to import the "
            f"team's answers sent from it, add it first: helpdesk operators add NAME {address}"
        )
        repo.set_raw_state(session, raw_id, "ignored", reason)
        return Outcome(OutcomeKind.STORED, reason, effect=Effect.IGNORED)
    if customer is not None:
        trace.append(f"sender {address} known as customer {customer.id}")
    elif operator is not None and prep.delivery.auth_user is None:
        trace.append(
            f"sender {address} claims to be operator {operator.name} but is not "
            "authenticated: handled as a customer or stranger"
        )

    choice = choose_ticket(
        _clues(session, mail, rules, addressed.reply_to),
        lambda n: format_token(n, rules.token_format),
    )
    trace.append(choice.reason)
    trusted = _trusted_operator(prep, operator, addressed, rules, trace)
    if trusted is not None and not verdict.automatic:
        return _from_operator(session, prep, raw_id, trusted, choice.number, rules, trace, now)
    if choice.number is None and verdict.automatic:
        repo.set_raw_state(session, raw_id, "ignored", f"{verdict.reason}; threads into no ticket")
        return Outcome(OutcomeKind.STORED, "automatic mail kept, no ticket", effect=Effect.IGNORED)

    state = _ticket(session, choice.number, trace) if choice.number else None
    kind = author_kind(
        sender_is_operator=False,  # operators authenticate by submission or DKIM (issue 4)
        sender_customer_id=customer.id if customer else None,
        ticket_customer_id=state.customer_id if state else None,
    )
    if kind is AuthorKind.STRANGER:
        assert state is not None
        trace.append(f"held: {address} is not the customer of ticket #{state.number}")
        held_pk = _add_message(
            session,
            mail,
            raw_id,
            state.number,
            AuthorKind.STRANGER,
            address,
            None,
            {Flag.HELD} | ({Flag.AUTO} if verdict.automatic else set()),
            trace,
            now,
        )
        if rules.notices is not None and not verdict.automatic:
            notify_stranger(session, state.number, address, mail.subject, rules.notices, now)
            notify_team(
                session,
                state.number,
                "stranger_held",
                rules.notices,
                now,
                extra={
                    "stranger": address,
                    "text": mail.text[:ECHO_CHARS],
                    "held_id": held_pk,
                    "customer": repo.customer_email(session, state.customer_id),
                },
            )
        return Outcome(
            OutcomeKind.STORED,
            f"held for an operator in ticket #{state.number}",
            state.number,
            effect=Effect.HELD,
        )

    if customer is None:
        customer = repo.add_customer(session, address, name, verified=False, now=now)
        trace.append(
            f"unknown sender {address}: recorded as unverified guest customer {customer.id}"
        )

    event = CustomerWrote(at=now, auto=verdict.automatic)
    settings: dict[str, object] = {}
    # Commands, nudges and the duplicate check read the top 8,000 characters. A reply's
    # quotes are cut (mail-parser-reply, intake's costliest step: 10 ms for a 50 KB
    # paste); a new request quotes nothing, and its signature repeats in every copy.
    top = mail.text[:FRESH_CHARS]
    fresh = "" if verdict.automatic else prep.new_words(top) if state is not None else top.strip()
    seen = _seen_before(session, prep, fresh, customer.id, state, rules, now)
    trace.extend(seen.trace)
    if seen.duplicate_of is not None:  # a new request that an open ticket already holds
        state = repo.ticket_state(session, seen.duplicate_of, for_update=True)
    if not verdict.automatic and state is not None:  # commands and nudges act on a ticket
        event, intent_trace, settings = _intent(fresh, now)
        trace.extend(intent_trace)
        event = replace(event, repeat=seen.repeat, duplicate=seen.duplicate_of is not None)
    decision = decide(state, event, rules.policy, now)
    trace.extend(decision.trace)

    if decision.disposition is Disposition.APPEND:
        assert state is not None
        number = state.number
        if decision.changed or decision.awaiting_since != state.awaiting_since:
            repo.update_ticket(session, number, decision, now)
    else:
        linked = state.number if state is not None else seen.related_to
        number = repo.create_ticket(
            session,
            subject=thread_subject(mail.subject) or mail.subject.strip() or "(no subject)",
            customer_id=customer.id,
            decision=decision,
            notify_address=None if verdict.automatic else address,
            locale=rules.locale,
            now=now,
            follow_up_of=linked,
            request=seen.request,
            notify=prep.delivery.notify,
        )
        if not prep.delivery.notify:
            trace.append("notifications off: the customer asked for no e-mail")
        if state is not None:
            trace.append(f"new ticket #{number}: follow-up of #{state.number}")
        elif seen.related_to is not None:
            trace.append(f"new ticket #{number}: linked to #{seen.related_to}")
    message_pk = _add_message(
        session,
        mail,
        raw_id,
        number,
        AuthorKind.CUSTOMER,
        address,
        customer.id,
        set(decision.flags),
        trace,
        now,
        digest=seen.digest,
    )
    actor = "system" if verdict.automatic else f"customer:{address}"
    repo.add_events(session, number, decision.changes, actor=actor, at=now, message_pk=message_pk)
    if rules.notices is not None:
        _notify_settings(session, number, settings, rules.notices, now)
        extra: dict[str, object] = {}
        if "created" in decision.notices:  # the request, echoed: enough to recognise it
            request = mail.text.strip()
            extra["text"] = request[:ECHO_CHARS] + ("…" if len(request) > ECHO_CHARS else "")
        if state is not None and state.number != number:  # a follow-up of a closed ticket
            extra["old_number"] = state.number
            extra["days"] = (now - state.closed_at).days if state.closed_at else 0
        if "duplicate" in decision.notices:
            extra["original_number"] = number
        enqueue_notices(
            session, number, decision, rules.notices, now, trigger_id=mail.message_id, extra=extra
        )
        if not verdict.automatic and not (seen.repeat and not decision.changed):
            notify_operators(
                session,
                number,
                "operator_message",
                rules.notices,
                now,
                trigger_id=mail.message_id,
                extra=lambda: {
                    **_for_operators(mail, customer, decision, state),
                    "attachment_ids": repo.attachment_ids(session, message_pk),
                },
            )
        if seen.related_to is not None and seen.match is not None:
            notify_team(
                session,
                number,
                "possible_repeat",
                rules.notices,
                now,
                extra={
                    "old_number": seen.related_to,
                    "old_subject": repo.ticket_subject(session, seen.related_to),
                    "similarity_percent": round(seen.match.score * 100),
                    "customer": address,
                    "text": fresh[:ECHO_CHARS],
                },
            )
    if decision.disposition is not Disposition.APPEND:
        effect = Effect.NEW_TICKET
    elif seen.duplicate_of is not None:
        effect = Effect.DUPLICATE
    elif seen.repeat:
        effect = Effect.REPEAT
    else:
        effect = Effect.THREADED
    return Outcome(OutcomeKind.STORED, f"ticket #{number}", number, effect=effect)


@dataclass(frozen=True, slots=True)
class _Seen:
    """What the duplicate catcher found (DESIGN §4)."""

    digest: str | None = None  # of this message's normalized new text
    request: tuple[str, str] | None = None  # (digest, normalized) when it opens a ticket
    repeat: bool = False  # the same content is already in the ticket it threads into
    duplicate_of: int | None = None  # an open ticket that already holds this request
    related_to: int | None = None  # a recently closed ticket much like it
    match: Match | None = None
    trace: tuple[str, ...] = ()


def _seen_before(
    session: Session,
    prep: Prepared,
    fresh: str,
    customer_id: int,
    state: TicketState | None,
    rules: IntakeRules,
    now: datetime,
) -> _Seen:
    """Same content in this ticket, or the same request as another of the customer's tickets?"""
    mail = prep.parsed
    assert mail is not None
    normalized = dedup.normalize(fresh)
    if not normalized:
        return _Seen()
    digest = dedup.digest(normalized)
    request = dedup.request_text(thread_subject(mail.subject), fresh, normalized_text=normalized)
    kept = (dedup.digest(request), request[: dedup.KEEP_CHARS])
    if state is not None:  # kept too: a follow-up ticket is compared with later requests
        earlier = repo.repeated_message(session, state.number, digest)
        if earlier is None:
            return _Seen(digest=digest, request=kept)
        return _Seen(
            digest=digest,
            request=kept,
            repeat=True,
            trace=(f"same content as message {earlier}",),
        )
    if prep.delivery.distinct:
        return _Seen(
            digest=digest,
            request=kept,
            trace=("shown its look-alike on the support page, the customer chose a new ticket",),
        )
    policy = rules.policy
    since = now - timedelta(days=policy.reopen_days)
    candidates = [
        dedup.Candidate(r.id, r.status in OPEN_VALUES, r.request_digest, r.request_norm)
        for r in repo.dedup_candidates(session, customer_id, since)
    ]
    match = dedup.best_match(request, candidates, policy.duplicate_similarity)
    if match is None:
        return _Seen(digest=digest, request=kept)
    how = "the same request" if match.exact else f"{match.score:.0%} like the request"
    if match.open:
        return _Seen(
            digest=digest,
            duplicate_of=match.number,
            match=match,
            trace=(f"duplicate: {how} of open ticket #{match.number}",),
        )
    return _Seen(
        digest=digest,
        request=kept,
        related_to=match.number,
        match=match,
        trace=(
            f"possible repeat: {how} of #{match.number}, closed in the last "
            f"{policy.reopen_days} days; operators are told",
        ),
    )


def _ticket(session: Session, number: int, trace: list[str]) -> TicketState | None:
    """The ticket, locked; a ticket merged into another stands for that one (followed once)."""
    state = repo.ticket_state(session, number, for_update=True)
    if state is not None and state.merged_into is not None:
        trace.append(f"#{state.number} was merged into #{state.merged_into}")
        state = repo.ticket_state(session, state.merged_into, for_update=True)
    return state


def _trusted_operator(
    prep: Prepared,
    operator: repo.Person | None,
    addressed: _Addressed,
    rules: IntakeRules,
    trace: list[str],
) -> repo.Person | None:
    """The operator this mail speaks for, when it proves it (guarantee 6); else None.

    Proof is the login on our submission listener (SMTP AUTH after STARTTLS),
    or a valid DKIM signature of the operator's domain on a mail to the reply
    address signed for that operator. The From header alone proves nothing.
    """
    auth = prep.delivery.auth_user
    if operator is not None and prep.delivery.source == IMPORTED:
        # ``helpdesk import`` replays the team's own archive, which an administrator chose
        # to bring in; its operators' answers are what they were then, proven or not.
        trace.append(f"operator {operator.name}: their answer, imported from the team's archive")
        return operator
    if operator is not None and auth is not None and auth.lower() == operator.email:
        trace.append(f"operator {operator.name}: authenticated by SMTP AUTH on submission")
        return operator
    if auth is not None:
        trace.append(f"logged in as {auth} but From is another address: not trusted")
        return None
    if operator is None or not addressed.operator_reply or not rules.operator_dkim:
        return None
    domain = operator.email.rpartition("@")[2]
    keys = dict(rules.dkim_keys) if rules.dkim_keys is not None else None
    signer = dkim_trust.signed_by(prep.delivery.data, domain, keys)
    if signer is None:
        trace.append(
            f"to {operator.name}'s reply address, but no valid DKIM signature of {domain}: "
            "not trusted"
        )
        return None
    trace.append(f"operator {operator.name}: DKIM signature of {signer} and their reply address")
    return operator


def _from_operator(
    session: Session,
    prep: Prepared,
    raw_id: int,
    operator: repo.Person,
    number: int | None,
    rules: IntakeRules,
    trace: list[str],
    now: datetime,
) -> Outcome:
    """An authenticated operator's reply and commands (``operator_intake``)."""
    mail = prep.parsed
    assert mail is not None
    if number is None:
        reason = "an operator's mail that names no ticket: reply to a ticket's mail"
        repo.set_raw_state(session, raw_id, "ignored", reason)
        return Outcome(OutcomeKind.STORED, reason, effect=Effect.IGNORED)
    state = _ticket(session, number, trace)
    number = state.number if state is not None else number
    fresh = prep.new_words(mail.text)
    commands, errors = parse_commands(fresh)
    orders, wrong = operator_intake.check(session, commands, errors, number)
    if prep.delivery.source == IMPORTED and state is not None and not wrong:
        customer = repo.customer_email(session, state.customer_id)
        if customer not in {a.key for a in (*mail.to, *mail.cc)}:  # e.g. a forward to a colleague
            trace.append(f"not addressed to the customer {customer}: kept as an internal note")
            orders = [operator_intake.Order("note", 0, ""), *orders]
    reply = operator_intake.body_after(fresh, orders, wrong)
    source = actions.MailSource(
        raw_mail_id=raw_id,
        message_id=mail.message_id,
        subject=mail.subject,
        html=mail.html,
        trace=tuple(trace),
        how="by mail",
    )
    if not wrong:
        # An action that is refused refuses before it writes; only a mail of several
        # steps (a reply, then commands) needs a savepoint to undo the earlier ones.
        commands = sum(o.name != "note" for o in orders)
        steps = commands + (1 if reply or len(orders) > commands else 0)
        try:
            with session.begin_nested() if steps > 1 else nullcontext():
                done = operator_intake.apply(
                    session,
                    number=number,
                    operator=operator,
                    orders=orders if (orders or reply) else [],
                    reply=reply,
                    source=source,
                    policy=rules.policy,
                    notices=rules.notices,
                    now=now,
                )
            return Outcome(
                OutcomeKind.STORED,
                f"ticket #{number}: {'; '.join(done)}",
                number,
                effect=Effect.OPERATOR,
            )
        except actions.ActionRefused as exc:  # the ticket's state forbids it: say so on line 1
            first = next((line.strip() for line in fresh.splitlines() if line.strip()), "")
            wrong = [operator_intake.Wrong(1, first, str(exc))]
    operator_intake.reject(
        session,
        number=number,
        operator=operator,
        wrong=wrong,
        source=source,
        text=mail.text,
        notices=rules.notices,
        now=now,
    )
    return Outcome(
        OutcomeKind.STORED,
        f"ticket #{number}: not applied, the operator is told",
        number,
        effect=Effect.OPERATOR,
    )


def _for_operators(
    mail: ParsedMail, customer: repo.Person, decision: Decision, state: TicketState | None
) -> dict[str, object]:
    """What an operator's copy of a customer's message says about it."""
    if decision.disposition is Disposition.NEW_TICKET:
        event = "created"
    elif decision.disposition is Disposition.FOLLOW_UP:
        event = "follow_up"
    elif any(c.from_ is not None and c.from_.is_closed for c in decision.changes):
        event = "reopened"
    else:
        event = "message"
    extra: dict[str, object] = {
        "event": event,
        "customer": customer.email,
        "customer_verified": customer.verified,
        "customer_id": customer.id,
        "text": mail.text,
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": len(a.data)}
            for a in mail.attachments
        ],
        "flags": sorted(f.value for f in decision.flags),
    }
    if event == "follow_up" and state is not None:
        extra["old_number"] = state.number
    return extra


def _clues(
    session: Session, mail: ParsedMail, rules: IntakeRules, reply_to: int | None
) -> ThreadClues:
    wanted: list[str] = []
    for mid in (*mail.in_reply_to, *reversed(mail.references)):
        if mid not in wanted:
            wanted.append(mid)
    known = repo.tickets_for_message_ids(session, wanted)
    token = find_token(mail.subject, rules.token_format)
    if reply_to is not None and not repo.ticket_exists(session, reply_to):
        reply_to = None
    return ThreadClues(
        reply_token=reply_to,
        referenced=tuple((mid, known[mid]) for mid in wanted if mid in known),
        subject_token=token,
        subject_token_exists=token is not None and repo.ticket_exists(session, token),
    )


def _intent(fresh: str, now: datetime) -> tuple[CustomerWrote, list[str], dict[str, object]]:
    """Read commands and nudges from the customer's new words, never from quoted history.

    Returns the event for the state machine, trace lines, and notification
    settings the customer asked for (``#notify on|off``, ``#notify-to ADDR``).
    """
    commands, errors = parse_commands(fresh)
    trace = [f"command #{c.name} on line {c.line}" for c in commands]
    trace += [f"ignored line {e.line} {e.raw!r}: {e.reason}" for e in errors]
    close = any(c.name == "close" for c in commands)
    settings: dict[str, object] = {}
    for c in commands:
        arg = c.arg.strip().lower()
        if c.name == "notify" and arg in ("on", "off", "вкл", "выкл"):
            settings["notify"] = arg in ("on", "вкл")
        elif c.name == "notify-to" and _looks_like_address(arg):
            settings["notify_to"] = arg
        elif c.name in ("notify", "notify-to"):
            trace.append(
                f"ignored line {c.line} {c.raw!r}: use #notify on|off or #notify-to ADDRESS"
            )
        elif c.name != "close":
            trace.append(f"command #{c.name} is for operators; ignored")
    nudge = None if close else find_nudge(fresh)
    if nudge:
        trace.append(f"flag nudge: matched {nudge!r}")
    return CustomerWrote(at=now, nudge=bool(nudge), close=close), trace, settings


def _looks_like_address(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    return bool(at and local and "." in domain and " " not in value and "\n" not in value)


def _notify_settings(
    session: Session, number: int, settings: dict[str, object], rules: NoticeRules, now: datetime
) -> None:
    if "notify" in settings:
        repo.set_notify(session, number, notify=bool(settings["notify"]))
    if "notify_to" in settings:
        address = str(settings["notify_to"])
        repo.set_notify(session, number, pending_address=address)
        notify(
            session,
            number,
            "confirm_address",
            rules,
            now,
            to_address=address,
            extra={"address": address},
        )


@dataclass(frozen=True)
class _Addressed:
    """What the envelope recipients say: a signed reply, bounce or confirmation address."""

    reply_to: int | None = None
    operator_reply: bool = False  # reply_to came by an operator's own signed address
    bounce_of: int | None = None
    confirms: int | None = None
    trace: tuple[str, ...] = ()


def _addressed(prep: Prepared, rules: IntakeRules, sender: str) -> _Addressed:
    secret = rules.notices.secret if rules.notices is not None else rules.secret
    if secret is None:
        return _Addressed()
    support = rules.support
    trace: list[str] = []
    for rcpt in prep.delivery.rcpt_tos:
        try:
            found = reply_address.read(rcpt, support, secret)
        except reply_address.BadToken:
            try:  # a confirmation address is signed together with the address it confirms
                found = reply_address.read(rcpt, support, secret, bound=sender)
            except reply_address.BadToken:
                trace.append(f"recipient {rcpt}: signature does not match; not trusted")
                continue
        if found is None:
            continue
        kind, number = found
        if kind == "t":
            return _Addressed(reply_to=number, trace=(*trace,))
        if kind == "o":
            return _Addressed(
                reply_to=number,
                operator_reply=True,
                trace=(*trace, f"operator reply address of #{number}, signed for {sender}"),
            )
        if kind == "b":
            return _Addressed(bounce_of=number, trace=(*trace, f"bounce of notification {number}"))
        return _Addressed(confirms=number, trace=(*trace, f"confirms notify address of #{number}"))
    return _Addressed(trace=tuple(trace))


def _bounce(
    session: Session, prep: Prepared, raw_id: int, row_id: int, trace: list[str], now: datetime
) -> Outcome:
    """A DSN about our own notification: stop mailing a dead address; never answer it."""
    reason = hard_failure(prep.delivery.data)
    number = outbox.mark_bouncing(session, row_id, reason) if reason else None
    ticket = number or outbox.ticket_of(session, row_id)
    if ticket is None:
        repo.set_raw_state(session, raw_id, "ignored", "bounce of an unknown notification")
        return Outcome(OutcomeKind.STORED, "bounce kept, no ticket", effect=Effect.IGNORED)
    trace.append(
        f"hard bounce ({reason}): notifications of #{ticket} stop until the address changes"
        if number
        else "temporary or stale bounce: nothing changes"
    )
    assert prep.parsed is not None
    sender = (prep.delivery.mail_from or "mailer-daemon").lower()
    _add_message(
        session,
        prep.parsed,
        raw_id,
        ticket,
        AuthorKind.SYSTEM,
        sender,
        None,
        {Flag.AUTO},
        trace,
        now,
    )
    return Outcome(OutcomeKind.STORED, f"bounce for ticket #{ticket}", ticket, effect=Effect.BOUNCE)


def _confirm(
    session: Session,
    prep: Prepared,
    raw_id: int,
    number: int,
    sender: str,
    trace: list[str],
    now: datetime,
) -> Outcome:
    """A reply from the address ``#notify-to`` named: from now on notices go there."""
    if repo.confirm_notify_address(session, number, sender):
        trace.append(f"notify address of #{number} is now {sender}")
    else:
        trace.append(f"{sender} is not the address waiting for confirmation on #{number}")
    assert prep.parsed is not None
    _add_message(
        session,
        prep.parsed,
        raw_id,
        number,
        AuthorKind.CUSTOMER,
        sender,
        None,
        {Flag.AUTO},
        trace,
        now,
    )
    return Outcome(OutcomeKind.STORED, f"ticket #{number}", number, effect=Effect.THREADED)


def _add_message(
    session: Session,
    mail: ParsedMail,
    raw_id: int,
    ticket: int,
    kind: AuthorKind,
    address: str,
    customer_id: int | None,
    flags: set[Flag],
    trace: list[str],
    now: datetime,
    *,
    digest: str | None = None,
) -> int:
    pk = repo.add_message(
        session,
        ticket_id=ticket,
        raw_mail_id=raw_id,
        message_id=mail.message_id,
        author_kind=kind.value,
        author_address=address,
        customer_id=customer_id,
        subject=mail.subject,
        text=mail.text,
        html=mail.html,
        flags=" ".join(sorted(f.value for f in flags)),
        trace=json.dumps(trace, ensure_ascii=False),
        defects=json.dumps(list(mail.defects), ensure_ascii=False),
        sent_at=mail.date,
        created_at=now,
        digest=digest,
    )
    repo.add_attachments(
        session, pk, ((a.filename, a.content_type, a.data) for a in mail.attachments)
    )
    if mail.message_id:
        repo.remember_thread_id(session, mail.message_id, ticket)
    return pk


def retry_quarantined(session: Session, raw_id: int, rules: IntakeRules, now: datetime) -> Outcome:
    """Run a quarantined mail through the pipeline again (after a parser fix)."""
    row = repo.raw_mail(session, raw_id)
    if row is None:
        raise LookupError(f"there is no raw mail {raw_id}; see `helpdesk quarantine list`")
    if row.state != "quarantined":
        raise LookupError(f"raw mail {raw_id} is {row.state}, not quarantined")
    prep = prepare(Delivery(row.mail_from, tuple(json.loads(row.rcpt_tos)), row.data, row.source))
    row.attempts += 1
    if prep.parsed is None:
        row.error = f"cannot parse: {prep.parse_error}"
        return Outcome(OutcomeKind.QUARANTINED, row.error)
    mid = prep.parsed.message_id
    if mid and repo.tickets_for_message_ids(session, [mid]):
        row.state, row.error = "duplicate", f"{mid} was stored meanwhile"
        return Outcome(OutcomeKind.DUPLICATE, row.error)
    row.state, row.error = "processed", None
    return process(session, prep, raw_id, rules, now)


def shunt(session: Session, delivery: Delivery, exc: Exception, now: datetime) -> Outcome:
    """Quarantine a mail because a step raised ``exc`` (Mailman's shunt queue)."""
    return quarantine(session, delivery, f"intake failed: {exc.__class__.__name__}: {exc}", now)


def quarantine(session: Session, delivery: Delivery, reason: str, now: datetime) -> Outcome:
    """Shunt a mail the pipeline failed on: its bytes and the reason, for a later retry."""
    key = "shunt:" + hashlib.sha256(delivery.data).hexdigest()
    raw_id = repo.store_raw(
        session,
        idem_key=key,
        received_at=now,
        source=delivery.source,
        mail_from=delivery.mail_from,
        rcpt_tos=delivery.rcpt_tos,
        data=delivery.data,
        state="quarantined",
        error=reason,
    )
    if raw_id is None:
        return Outcome(OutcomeKind.DUPLICATE, "already in quarantine")
    return Outcome(OutcomeKind.QUARANTINED, f"{reason}; kept in quarantine as raw mail {raw_id}")
