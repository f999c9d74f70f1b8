"""Builds and wires everything from Settings; owns the event loop, start and stop.

The one place that reads configuration and turns it into the plain values
and callables the other packages take (``IntakeRules``, the SMTP handler's
functions). Nothing imports this module but ``cli``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import ssl
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Row
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from gateway import importer, ingest
from gateway.archive import Archive, ArchiveError
from gateway.clock import Clock, system_clock
from gateway.config import ConfigError, Settings
from gateway.desk.model import Policy
from gateway.intake_writer import WriterConfig, WriterProcess, WriterUnavailable
from gateway.notify.build import DispatchRules
from gateway.notify.dispatch import Dispatcher, MaildirSender, Sender, SmtpSender
from gateway.notify.faq import FaqError, load_faq
from gateway.notify.render import Templates, default_root
from gateway.outcome import DATABASE_AWAY, Delivery, Outcome, OutcomeKind
from gateway.schedule import Intervals, Scheduler
from gateway.smtp import tls
from gateway.smtp.handler import Handler
from gateway.smtp.server import start_listener, start_submission
from gateway.smtp.submission import SubmissionHandler
from gateway.store import db
from gateway.store.group_commit import GroupCommitter
from gateway.store.notices import NoticeRules
from gateway.store.outbox import RateLimit
from gateway.sweep import SweepRules, sweep
from gateway.web.backend import Backend, Refused, WebConfig
from gateway.web.server import HttpListener
from gateway.web.site import make_app

log = logging.getLogger("gateway")


def load_secret(settings: Settings) -> bytes:
    """HELPDESK_SECRET, else ``data_dir/secret.key``, made once with 32 random bytes.

    Reply and bounce addresses are signed with it; it must survive restarts and
    be the same on every instance sharing a database (set HELPDESK_SECRET there).
    """
    if settings.secret:
        return settings.secret.encode()
    path = Path(settings.data_dir) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def notice_rules(settings: Settings, secret: bytes) -> NoticeRules:
    return NoticeRules(
        support=settings.support,
        domain=settings.domain,
        secret=secret,
        token_format=settings.token_format,
        reopen_days=settings.reopen_days,
        limit=RateLimit(
            settings.auto_reply_limit, timedelta(minutes=settings.auto_reply_window_minutes)
        ),
        team_address=settings.team_address.lower(),
        operator_copies=settings.operator_copies,
        team_locale=settings.locale,
    )


def policy(settings: Settings) -> Policy:
    return Policy(
        reopen_days=settings.reopen_days,
        auto_close_days=settings.auto_close_days,
        remind_days_before=settings.remind_days_before,
        escalate_after=timedelta(hours=settings.escalate_after_hours),
        escalate_every=timedelta(hours=settings.escalate_every_hours),
        duplicate_similarity=settings.duplicate_similarity,
    )


def sweep_rules(settings: Settings, secret: bytes) -> SweepRules:
    return SweepRules(
        policy=policy(settings),
        notices=notice_rules(settings, secret),
        token_format=settings.token_format,
        dedup_window=timedelta(minutes=settings.dedup_window_minutes),
    )


def intake_rules(settings: Settings, secret: bytes | None = None) -> ingest.IntakeRules:
    return ingest.IntakeRules(
        support=settings.support,
        domain=settings.domain,
        token_format=settings.token_format,
        policy=policy(settings),
        unknown_senders=settings.unknown_senders,
        register_hint=settings.register_hint,
        locale=settings.locale,
        own_id_domains=frozenset({settings.domain.lower()}),
        notices=notice_rules(settings, secret) if secret is not None else None,
        operator_dkim=settings.operator_dkim,
        dkim_keys=load_dkim_keys(settings),
        secret=secret,
    )


def load_dkim_keys(settings: Settings) -> tuple[tuple[str, str], ...] | None:
    """Pinned DKIM keys from the ``dkim_keys`` TOML file; None = ask DNS."""
    if not settings.dkim_keys:
        return None
    try:
        data = tomllib.loads(Path(settings.dkim_keys).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"HELPDESK_DKIM_KEYS={settings.dkim_keys}: {exc}") from None
    return tuple(sorted((str(k).lower().rstrip("."), str(v)) for k, v in data.items()))


@dataclass
class Gateway:
    """One running gateway: database, intake writer, listeners."""

    settings: Settings
    clock: Clock = system_clock
    rules: ingest.IntakeRules = field(init=False)

    def __post_init__(self) -> None:
        self.secret = load_secret(self.settings)
        self.rules = intake_rules(self.settings, self.secret)
        self.engine = db.make_engine(
            self.settings.db_url, sqlite_synchronous=self.settings.sqlite_synchronous
        )
        self.sessions = db.session_factory(self.engine)
        self._writer: GroupCommitter[ingest.Prepared | Delivery, Outcome] | None = None
        self._child: WriterProcess | None = None
        self.dispatcher: Dispatcher | None = None
        self.scheduler: Scheduler | None = None
        self._dispatch_stop = asyncio.Event()
        self._dispatch_task: asyncio.Task[None] | None = None
        self._pending = 0
        self.bound: tuple[str, int] | None = None
        self.submission_bound: tuple[str, int] | None = None  # None: submission is off
        self._submission: asyncio.Server | None = None
        self._dummy_hash: str | None = None
        self._http: HttpListener | None = None
        self.http_bound: tuple[str, int] | None = None  # None: the support page is off

    # --- set-up -----------------------------------------------------------

    def init_database(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        db.upgrade(self.engine)

    def require_database(self) -> None:
        try:
            db.require_migrated(self.engine)
        except SQLAlchemyError as exc:
            raise db.StoreUnavailable(
                f"cannot open the database {self.engine.url.render_as_string(hide_password=True)}:"
                f" {exc.__class__.__name__}; check HELPDESK_DATABASE_URL"
            ) from None

    def close(self) -> None:
        self.engine.dispose()

    @property
    def writer_pid(self) -> int | None:
        """The intake writer's process id (None with HELPDESK_INTAKE_WRITER=thread)."""
        return self._child.pid if self._child is not None else None

    # --- intake -----------------------------------------------------------

    def _work(self, session: Session, item: ingest.Prepared | Delivery) -> Outcome:
        prep = ingest.prepare(item) if isinstance(item, Delivery) else item
        return ingest.ingest(session, prep, self.rules, self.clock())

    def _shunt(self, session: Session, item: ingest.Prepared | Delivery, exc: Exception) -> Outcome:
        delivery = item if isinstance(item, Delivery) else item.delivery
        return ingest.shunt(session, delivery, exc, self.clock())

    def ingest_now(self, delivery: Delivery) -> Outcome:
        """One mail in its own transaction (the pipe transport and tests)."""
        prep = ingest.prepare(delivery)
        try:
            with db.transaction(self.sessions) as session:
                return self._work(session, prep)
        except SQLAlchemyError as exc:
            if not isinstance(exc, IntegrityError | DataError):
                log.warning("could not store: %s", exc)
                return DATABASE_AWAY
            log.exception("the database refused this mail's rows; shunting to quarantine")
            with db.transaction(self.sessions) as session:
                return self._shunt(session, prep, exc)
        except Exception as exc:  # a bug in a step: keep the bytes, answer "stored"
            log.exception("intake failed; shunting to quarantine")
            with db.transaction(self.sessions) as session:
                return self._shunt(session, prep, exc)

    async def deliver(self, delivery: Delivery) -> Outcome:
        """Parse, decide and commit off the loop; the outcome arrives after COMMIT."""
        self._pending += 1
        try:
            if self._child is not None:
                return await self._child.run(delivery, self.clock())
            assert self._writer is not None
            return await self._writer.run(delivery)
        except Exception as exc:
            log.warning("deferring a mail: %s", exc)
            return DATABASE_AWAY
        finally:
            self._pending -= 1

    async def check_sender(self, address: str) -> Outcome | None:
        if self.rules.unknown_senders != "refuse":
            return None

        def lookup() -> Outcome | None:
            with self.sessions() as session:
                return ingest.check_sender(session, address, self.rules)

        try:
            return await asyncio.to_thread(lookup)
        except SQLAlchemyError:
            return Outcome(OutcomeKind.DEFERRED)

    def handler(self) -> Handler:
        return Handler(
            serves=self.rules.serves,
            check_sender=self.check_sender,
            deliver=self.deliver,
            support=self.rules.support,
            size_limit=self.settings.max_message_size,
            lmtp=self.settings.listen_scheme == "lmtp",
        )

    # --- operators' submission (issue 4) ------------------------------------

    def authenticate(self, login: str, password: str) -> str | None:
        """SMTP AUTH on submission: the operator's address for the right password, else None.

        The login is the operator's address (any case), or the operator's NAME
        (names are unique). Blocking — a query and scrypt — so the submission
        handler runs it in a worker thread. A login that matches no operator
        with a password costs one scrypt too, so timing does not reveal it.
        """
        from gateway.passwords import hash_password, verify_password
        from gateway.store import repo

        with self.sessions() as session:
            ops = repo.operators(session)
            match = [o for o in ops if o.email == login.strip().lower()]
            match = match or [o for o in ops if o.name == login]
            found = [(o.email, o.password_hash) for o in match if o.password_hash]
        if len(found) != 1:
            if self._dummy_hash is None:
                self._dummy_hash = hash_password(secrets.token_hex(16))
            verify_password(password, self._dummy_hash)
            return None
        email, stored = found[0]
        return email if verify_password(password, stored) else None

    def submission_handler(self) -> SubmissionHandler:
        return SubmissionHandler(
            serves=self.rules.serves,
            authenticate=self.authenticate,
            deliver=self.deliver,
            support=self.rules.support,
            size_limit=self.settings.max_message_size,
        )

    def submission_tls(self) -> tuple[ssl.SSLContext, Path]:
        """The configured certificate, else the self-signed one in ``data_dir/tls`` (made once)."""
        s = self.settings
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

    async def start_submission(self, context: ssl.SSLContext, cert: Path) -> None:
        host, port = self.settings.submission_host_port
        self._submission = await start_submission(
            self.submission_handler(),
            host,
            port,
            tls_context=context,
            hostname=self.settings.domain,
        )
        self.submission_bound = self._submission.sockets[0].getsockname()[:2]
        log.info(
            "submission on smtp://%s:%d (STARTTLS, then AUTH); certificate %s, SHA-256 %s",
            *self.submission_bound,
            cert,
            tls.fingerprint(cert),
        )

    # --- the support page (issue 7) ---------------------------------------------

    def web_config(self, bound: tuple[str, int] | None = None) -> WebConfig:
        """The page's settings; mailed links use the public URL, else the bound address."""
        s = self.settings
        try:
            faq = tuple(load_faq(Path(s.faq_path)))
        except FaqError as exc:
            raise ConfigError(f"{exc}; fix it or point HELPDESK_FAQ_PATH elsewhere") from None
        secure = {"yes": True, "no": False}.get(
            s.http_cookie_secure, s.http_base_url.startswith("https://")
        )
        return WebConfig(
            secret=self.secret,
            support=s.support,
            domain=s.domain,
            base_url=s.http_public_url.rstrip("/")
            or (f"http://{bound[0]}:{bound[1]}" if bound else s.http_base_url),
            token_format=s.token_format,
            locale=s.locale,
            policy=self.rules.policy,
            trusted_header=s.http_trusted_header,
            trusted_proxies=s.http_proxy_networks,
            signin_lifetime=timedelta(minutes=s.http_signin_minutes),
            session_lifetime=timedelta(hours=s.http_session_hours),
            secure_cookie=secure,
            faq=faq,
            notices=self.rules.notices,
        )

    def web_backend(self) -> Backend:
        """The gateway's abilities for the page; refusals become the page's ``Refused``."""

        def refusing(fn: Callable[..., object]) -> Callable[..., object]:
            def run(*args: object, **kwargs: object) -> object:
                try:
                    return fn(self, *args, **kwargs)
                except AdminError as exc:
                    raise Refused(str(exc)) from None

            return run

        return Backend(
            sessions=self.sessions,
            clock=self.clock,
            deliver=self.deliver,
            authenticate=self.authenticate,
            operator_action=refusing(operator_action),  # type: ignore[arg-type]
            merge=refusing(merge_tickets),  # type: ignore[arg-type]
            assign=refusing(assign_ticket),  # type: ignore[arg-type]
            decide_held=lambda pk, op, ok: refusing(decide_held)(pk, op, accept=ok),  # type: ignore[return-value]
            retry_quarantined=refusing(retry_quarantined),  # type: ignore[arg-type]
        )

    def bind_http(self) -> HttpListener:
        """The page's socket, bound before anything else starts: a busy port is one line."""
        host, port = self.settings.http_host_port
        try:
            return HttpListener(host, port)
        except OSError as exc:
            raise ConfigError(
                f"HELPDESK_HTTP_LISTEN={self.settings.http_listen}: cannot listen: "
                f"{exc.strerror or exc}; choose another port, or empty to turn the page off"
            ) from None

    async def start_http(self, listener: HttpListener) -> None:
        await listener.start(make_app(self.web_backend(), self.web_config(listener.bound)))
        self._http, self.http_bound = listener, listener.bound
        log.info("support page on http://%s:%d", *self.http_bound)

    # --- running ----------------------------------------------------------

    def make_dispatcher(self) -> Dispatcher:
        s = self.settings
        try:
            faq = tuple(load_faq(Path(s.faq_path)))
        except FaqError as exc:
            raise db.StoreUnavailable(
                f"{exc}; fix it or point HELPDESK_FAQ_PATH elsewhere"
            ) from None

        def sender() -> Sender:
            if not s.smarthost:
                return MaildirSender(Path(s.data_dir) / "outgoing")
            host, port = s.smarthost_host_port
            starttls = {"auto": None, "yes": True, "no": False}[s.smarthost_starttls]
            return SmtpSender(
                host,
                port,
                starttls=starttls,
                username=s.smarthost_user,
                password=s.smarthost_password,
            )

        rules = DispatchRules(
            support=s.support,
            secret=self.secret,
            max_attempts=s.notify_max_attempts,
            backoff=timedelta(seconds=s.notify_backoff_seconds),
            faq=faq,
        )
        return Dispatcher(self.sessions, Templates(default_root()), rules, sender, self.clock)

    def make_scheduler(self) -> Scheduler:
        s = self.settings
        intervals = Intervals(
            auto_close=timedelta(seconds=s.auto_close_interval_seconds),
            remind=timedelta(seconds=s.remind_interval_seconds),
            reopen_lapse=timedelta(seconds=s.reopen_interval_seconds),
            escalate=timedelta(seconds=s.escalate_interval_seconds),
            dedup=timedelta(seconds=s.dedup_interval_seconds),
        )
        return Scheduler(self.sessions, sweep_rules(s, self.secret), self.clock, intervals)

    async def start(self) -> asyncio.Server:
        self.require_database()
        submission = self.submission_tls() if self.settings.submission_listen else None
        http = self.bind_http() if self.settings.http_listen else None
        self.dispatcher = self.make_dispatcher()
        if self.settings.intake_writer == "process":
            child = WriterProcess(
                WriterConfig(self.settings.db_url, self.settings.sqlite_synchronous, self.rules)
            )
            try:
                await child.start()
            except WriterUnavailable as exc:
                raise db.StoreUnavailable(str(exc)) from None
            self._child = child
        else:
            self._writer = GroupCommitter(
                self.sessions, self._work, self._shunt, name="intake-writer"
            )
            self._writer.start()
        self._dispatch_stop.clear()
        self._dispatch_task = asyncio.ensure_future(self.dispatcher.run(self._dispatch_stop))
        self.scheduler = self.make_scheduler()
        self.scheduler.start()
        host, port = self.settings.listen_host_port
        server = await start_listener(self.handler(), host, port, hostname=self.settings.domain)
        self.bound = server.sockets[0].getsockname()[:2]
        log.info("listening on %s://%s:%d", self.settings.listen_scheme, *self.bound)
        if submission is not None:
            try:
                await self.start_submission(*submission)
            except BaseException:
                server.close()
                raise
        if http is not None:
            try:
                await self.start_http(http)
            except BaseException:
                server.close()
                if self._submission is not None:
                    self._submission.close()
                raise
        return server

    async def stop(self, server: asyncio.Server, grace: float = 10.0) -> None:
        """Stop accepting, let in-flight mails commit and be answered, then stop."""
        server.close()
        if self._submission is not None:
            self._submission.close()
        if self._http is not None:
            await self._http.stop()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self._pending and loop.time() < deadline:
            await asyncio.sleep(0.02)
        if self.scheduler is not None:
            await self.scheduler.stop(grace)
        if self._writer is not None:
            await asyncio.to_thread(self._writer.stop)
        if self._child is not None:
            await self._child.stop()
        if self._dispatch_task is not None:
            self._dispatch_stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._dispatch_task, grace)
        self.close()

    async def serve(
        self, stop: asyncio.Event | None = None, ready: asyncio.Event | None = None
    ) -> None:
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop.set)
        server = await self.start()
        if ready is not None:
            ready.set()
        try:
            await stop.wait()
        finally:
            log.info("stopping")
            await self.stop(server)


# --- administration (the CLI's verbs; thin wrappers over the store) -------------


class AdminError(Exception):
    """A CLI request that cannot be carried out; the message says what to do."""


def add_customer(gw: Gateway, email: str, name: str, *, verified: bool = True) -> dict:
    from gateway.store import repo

    if "@" not in email or email.strip() != email or " " in email:
        raise AdminError(f"{email!r} is not an e-mail address")
    with db.transaction(gw.sessions) as session:
        if repo.find_customer(session, email):
            raise AdminError(f"customer {email} already exists; see `helpdesk customers list`")
        person = repo.add_customer(session, email, name, verified=verified, now=gw.clock())
    return {"id": person.id, "email": person.email, "name": person.name, "verified": verified}


def list_customers(gw: Gateway) -> list[dict]:
    from gateway.store import repo

    with gw.sessions() as session:
        return [
            {
                "id": c.id,
                "email": c.email,
                "name": c.name,
                "verified": c.verified,
                "created_at": c.created_at.isoformat(),
            }
            for c in repo.customers(session)
        ]


def add_operator(gw: Gateway, name: str, email: str, password: str | None) -> dict:
    from gateway.passwords import hash_password
    from gateway.store import repo

    if "@" not in email or " " in email:
        raise AdminError(f"{email!r} is not an e-mail address")
    if not name.strip():
        raise AdminError("the operator's NAME must not be empty")
    hashed = hash_password(password) if password else None
    with db.transaction(gw.sessions) as session:
        if repo.find_operator(session, email):
            raise AdminError(f"an operator with address {email} already exists")
        if any(o.name == name for o in repo.operators(session)):
            raise AdminError(f"an operator named {name!r} already exists")
        op_id = repo.add_operator(session, name, email, hashed, gw.clock())
    return {"id": op_id, "name": name, "email": email.lower(), "password": bool(hashed)}


def list_operators(gw: Gateway) -> list[dict]:
    from gateway.store import repo

    with gw.sessions() as session:
        return [
            {
                "id": o.id,
                "name": o.name,
                "email": o.email,
                "password": o.password_hash is not None,
                "created_at": o.created_at.isoformat(),
            }
            for o in repo.operators(session)
        ]


def retry_quarantined(gw: Gateway, raw_id: int) -> Outcome:
    try:
        with db.transaction(gw.sessions) as session:
            return ingest.retry_quarantined(session, raw_id, gw.rules, gw.clock())
    except LookupError as exc:
        raise AdminError(str(exc)) from None


def operator_action(
    gw: Gateway,
    number: int,
    operator: str,
    action: str,
    *,
    status: str | None = None,
    reason: str = "",
    text: str = "",
) -> dict:
    from gateway import actions
    from gateway.desk.model import Status

    target = None
    if status is not None:
        try:
            target = Status(status)
        except ValueError:
            raise AdminError(
                f"unknown status {status!r}; "
                "use in_progress, awaiting_customer or awaiting_operator"
            ) from None
    try:
        with db.transaction(gw.sessions) as session:
            return actions.act(
                session,
                number,
                operator,
                action,
                gw.clock(),
                gw.rules.policy,
                status=target,
                reason=reason,
                text=text,
                notices=gw.rules.notices,
            )
    except actions.ActionRefused as exc:
        raise AdminError(str(exc)) from None


def _acting(gw: Gateway, act: Callable[[Session], dict]) -> dict:
    """An operator action in its own transaction; a refusal becomes the CLI's one line."""
    from gateway import actions

    try:
        with db.transaction(gw.sessions) as session:
            return act(session)
    except actions.ActionRefused as exc:
        raise AdminError(str(exc)) from None


def merge_tickets(gw: Gateway, number: int, into: int, operator: str) -> dict:
    from gateway import actions

    return _acting(
        gw, lambda s: actions.merge(s, number, into, operator, gw.clock(), gw.rules.notices)
    )


def assign_ticket(gw: Gateway, number: int, assignee: str, operator: str) -> dict:
    from gateway import actions

    return _acting(gw, lambda s: actions.assign(s, number, operator, assignee, gw.clock()))


def held_mails(gw: Gateway) -> list[dict]:
    from gateway.store import repo

    with gw.sessions() as session:
        return [
            {
                "id": m.id,
                "ticket": m.ticket_id,
                "from": m.author_address,
                "subject": m.subject,
                "text": m.text,
                "created_at": m.created_at.isoformat(),
            }
            for m in repo.held_messages(session)
        ]


def decide_held(gw: Gateway, message_pk: int, operator: str, *, accept: bool) -> dict:
    from gateway import actions

    return _acting(
        gw,
        lambda s: actions.decide_held(
            s,
            message_pk,
            operator,
            accept=accept,
            now=gw.clock(),
            policy=gw.rules.policy,
            notices=gw.rules.notices,
        ),
    )


def outbox_rows(gw: Gateway, *, failed_only: bool) -> list[dict]:
    from gateway.store import outbox

    with gw.sessions() as session:
        return [_outbox_view(r) for r in outbox.rows(session, failed_only=failed_only)]


def retry_outbox(gw: Gateway, row_id: int) -> dict:
    from gateway.store import outbox

    with db.transaction(gw.sessions) as session:
        row = outbox.retry(session, row_id, gw.clock())
    if row is None:
        raise AdminError(f"there is no notification {row_id}; see `helpdesk outbox`")
    return _outbox_view(row)


def set_ticket_notify(gw: Gateway, number: int, *, on: bool | None, address: str | None) -> dict:
    from gateway.store import repo

    if address is not None and ("@" not in address or " " in address):
        raise AdminError(f"{address!r} is not an e-mail address")
    with db.transaction(gw.sessions) as session:
        if not repo.ticket_exists(session, number):
            raise AdminError(f"there is no ticket #{number}; see `helpdesk tickets`")
        repo.set_notify(session, number, notify=on, address=address)
        row = repo.ticket_notify(session, number)
    return {"number": number, **row}


def run_sweep(gw: Gateway, *, as_of: datetime | None, dry_run: bool) -> dict:
    """Every rule once (``helpdesk sweep``), then send what is due unless dry.

    With no ``serve`` running (mail piped in by ``helpdesk ingest``, the sweep
    from cron), this is also what sends notifications.
    """

    now = as_of or gw.clock()
    report = sweep(gw.sessions, sweep_rules(gw.settings, gw.secret), now, dry_run=dry_run)
    result = report.as_dict()
    if dry_run:
        return result

    async def drain() -> int:
        dispatcher = gw.make_dispatcher()
        sent = 0
        try:
            while True:
                claimed = await dispatcher.run_once()
                sent += claimed
                if claimed == 0:
                    return sent
        finally:
            await dispatcher.close()

    result["notifications_tried"] = asyncio.run(drain())
    return result


def _outbox_view(r: Row) -> dict:
    return {
        "id": r.id,
        "ticket": r.ticket_id,
        "kind": r.kind,
        "to": r.to_address,
        "state": r.state,
        "attempts": r.attempts,
        "message_id": r.message_id,
        "last_error": r.last_error,
        "created_at": r.created_at.isoformat(),
        "next_attempt_at": r.next_attempt_at.isoformat(),
        "sent_at": r.sent_at.isoformat() if r.sent_at else None,
    }


def import_mailbox(
    gw: Gateway,
    paths: list[Path],
    *,
    dry_run: bool,
    notify_open: bool = False,
    on_start: Callable[[int], None] | None = None,
    progress: importer.Progress | None = None,
) -> importer.ImportReport:
    """``helpdesk import``: read the archive's dates, then replay it quietly; with
    ``notify_open``, tell the customers of the tickets still open where they are now."""
    try:
        archive = Archive(paths, gw.clock())
    except ArchiveError as exc:
        raise AdminError(str(exc)) from None
    with archive:
        entries = archive.entries()
        if on_start is not None:
            on_start(len(entries))
        rules = importer.ImportRules.quiet(gw.rules, sweep_rules(gw.settings, gw.secret))
        try:
            report = importer.run(
                gw.sessions,
                archive,
                rules,
                gw.clock,
                dry_run=dry_run,
                entries=entries,
                progress=progress,
            )
        except importer.ImportFailed as exc:
            raise AdminError(str(exc)) from None
    if notify_open and not dry_run:
        notices = notice_rules(gw.settings, gw.secret)
        report.notified = importer.tell_open(gw.sessions, report.open_tickets, notices, gw.clock())
    return report
