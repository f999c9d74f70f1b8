"""The parts ``helpdesk serve`` starts, built from the wiring: the SMTP handlers, the
submission listener's TLS, the support page, the dispatcher and the scheduler.

Each edge gets plain callables and values, never the store: the SMTP handler
an ``accept`` (``deliver``) and a sender check, the page a ``Backend``.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from gateway.app.wiring import Wiring, dispatch_rules, intervals, web_config
from gateway.config import ConfigError
from gateway.intake.sender import check_sender
from gateway.notify.dispatch import Dispatcher
from gateway.notify.render import Templates, default_root
from gateway.notify.senders import Smarthost
from gateway.outcome import Delivery, Outcome, OutcomeKind
from gateway.schedule.scheduler import Scheduler
from gateway.smtp import tls
from gateway.smtp.handler import Handler
from gateway.smtp.submission import SubmissionHandler
from gateway.web import monitoring
from gateway.web.backend import Backend
from gateway.web.server import HttpListener
from gateway.web.site import make_app

Deliver = Callable[[Delivery], Awaitable[Outcome]]


def sender_check(wiring: Wiring) -> Callable[[str], Awaitable[Outcome | None]]:
    """RCPT time: is the envelope sender refused? (only with ``unknown_senders = refuse``)"""
    rules = wiring.intake

    async def check(address: str) -> Outcome | None:
        if rules.unknown_senders != "refuse":
            return None

        def lookup() -> Outcome | None:
            with wiring.sessions() as session:
                return check_sender(session, address, rules)

        try:
            return await asyncio.to_thread(lookup)
        except SQLAlchemyError:
            return Outcome(OutcomeKind.DEFERRED)

    return check


def counted(wiring: Wiring, deliver: Deliver) -> Deliver:
    """``deliver``, each outcome added to the wiring's tally (GET /metrics)."""

    async def run(delivery: Delivery) -> Outcome:
        outcome = await deliver(delivery)
        wiring.tally.add(outcome.kind)
        return outcome

    return run


def _counted_checks(
    wiring: Wiring,
) -> tuple[Callable[[str], bool], Callable[[str], Awaitable[Outcome | None]]]:
    """The RCPT-time checks, each refusal added to the tally."""
    serves, check = wiring.intake.serves, sender_check(wiring)

    def served(address: str) -> bool:
        ok = serves(address)
        if not ok:
            wiring.tally.add(OutcomeKind.UNKNOWN_RECIPIENT)
        return ok

    async def sender(address: str) -> Outcome | None:
        refusal = await check(address)
        if refusal is not None:
            wiring.tally.add(refusal.kind)
        return refusal

    return served, sender


def smtp_handler(wiring: Wiring, deliver: Deliver) -> Handler:
    s = wiring.settings
    served, sender = _counted_checks(wiring)
    handler = Handler(
        serves=served,
        check_sender=sender,
        deliver=counted(wiring, deliver),
        support=wiring.intake.support,
        size_limit=s.max_message_size,
        lmtp=s.listen_scheme == "lmtp",
    )
    handler.max_recipients = s.smtp_max_recipients
    return handler


def submission_handler(wiring: Wiring, deliver: Deliver) -> SubmissionHandler:
    handler = SubmissionHandler(
        serves=wiring.intake.serves,
        authenticate=wiring.logins.smtp,
        deliver=counted(wiring, deliver),
        support=wiring.intake.support,
        size_limit=wiring.settings.max_message_size,
    )
    handler.max_recipients = wiring.settings.smtp_max_recipients
    return handler


def submission_tls(wiring: Wiring) -> tuple[ssl.SSLContext, Path]:
    """The configured certificate, else the self-signed one in ``data_dir/tls`` (made once)."""
    s = wiring.settings
    try:
        if s.submission_cert:
            cert, key = Path(s.submission_cert), Path(s.submission_key or s.submission_cert)
        else:
            host, _ = s.submission_host_port
            extra = () if host in ("0.0.0.0", "::") else (host,)
            cert, key = tls.ensure_self_signed(
                Path(s.data_dir) / "tls", s.domain, extra_names=extra
            )
        return tls.server_context(cert, key), cert
    except tls.TlsError as exc:
        raise ConfigError(str(exc)) from None


def bind_http(wiring: Wiring) -> HttpListener:
    """The page's socket, bound before anything else starts: a busy port is one line."""
    s = wiring.settings
    host, port = s.http_host_port
    try:
        return HttpListener(host, port)
    except OSError as exc:
        raise ConfigError(
            f"HELPDESK_HTTP_LISTEN={s.http_listen}: cannot listen: "
            f"{exc.strerror or exc}; choose another port, or empty to turn the page off"
        ) from None


def probe(wiring: Wiring, gateway: object) -> monitoring.Probe | None:
    """What /healthz and /metrics read of a running gateway; None when they are off.

    The writer's state and restarts are read by name, with defaults, so this works
    with a gateway that does not report them (a thread writer: running while served).
    """
    s = wiring.settings
    if not s.http_monitoring:
        return None

    def writer() -> tuple[str, int]:
        state = getattr(gateway, "writer_state", "running")
        return str(state), int(getattr(gateway, "writer_restarts", 0))

    def sweeps() -> dict[str, tuple[int, float, float]]:
        jobs = getattr(gateway, "scheduler", None)
        if jobs is None:
            return {}
        return {
            name: (runs, jobs.seconds.get(name, 0.0), jobs.last_seconds.get(name, 0.0))
            for name, runs in jobs.runs.items()
        }

    return monitoring.Probe(
        sessions=wiring.sessions,
        clock=wiring.clock,
        tally=wiring.tally,
        writer=writer,
        sweeps=sweeps,
        outbox_max_age=timedelta(seconds=s.health_outbox_seconds),
    )


def web_app(
    wiring: Wiring, deliver: Deliver, bound: tuple[str, int], gateway: object = None
) -> object:
    """The support page's application: the operator verbs, intake through the writer;
    and, unless turned off, the sysadmin's /healthz and /metrics."""
    backend = Backend(
        sessions=wiring.sessions,
        clock=wiring.clock,
        deliver=counted(wiring, deliver),
        desk=wiring.desk,
        intake=wiring.intake,
        logins=wiring.logins,
    )
    app = make_app(backend, web_config(wiring.settings, wiring.secret, bound))
    app.router.routes[:0] = monitoring.routes(probe(wiring, gateway))
    return app


def dispatcher(wiring: Wiring) -> Dispatcher:
    """The outbox's sender: aiosmtplib to the smarthost, or files in ``var/outgoing``."""
    s = wiring.settings
    rules = dispatch_rules(s, wiring.secret)
    if s.smarthost:
        host, port = s.smarthost_host_port
        smarthost = Smarthost(
            host,
            port,
            starttls={"auto": None, "yes": True, "no": False}[s.smarthost_starttls],
            username=s.smarthost_user,
            password=s.smarthost_password,
            ehlo_name=s.ehlo_name or s.domain,  # never "localhost" (issue 13)
        )
    else:
        smarthost = Smarthost(maildir=Path(s.data_dir) / "outgoing")
    return Dispatcher(wiring.sessions, Templates(default_root()), rules, smarthost, wiring.clock)


def scheduler(wiring: Wiring) -> Scheduler:
    return Scheduler(
        wiring.sessions, wiring.sweep_rules(), wiring.clock, intervals(wiring.settings)
    )
