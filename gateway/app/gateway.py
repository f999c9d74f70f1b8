"""One running gateway: intake writer, listeners, dispatcher, scheduler, page — start
and stop in order, on one event loop, until SIGTERM or SIGINT.

Intake: a mail from any edge is handed to :meth:`Gateway.deliver`, which
resolves only after the COMMIT that holds it (guarantee 1): in the intake
writer child process by default (``intake.writer``), or a group-committing
thread (``HELPDESK_INTAKE_WRITER=thread``). :meth:`Gateway.ingest_now` is the
one-mail, one-transaction path of ``helpdesk ingest``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gateway.app import parts
from gateway.app.wiring import Wiring
from gateway.clock import Clock, system_clock
from gateway.config import Settings
from gateway.intake import IntakeRules, Prepared, ingest, prepare
from gateway.intake.budget import prepare_within
from gateway.intake.quarantine import shunt
from gateway.intake.writer import WriterConfig, WriterProcess, WriterUnavailable
from gateway.notify.dispatch import Dispatcher
from gateway.outcome import DATABASE_AWAY, Delivery, Outcome
from gateway.schedule.scheduler import Scheduler
from gateway.smtp import tls
from gateway.smtp.limits import SessionLimits
from gateway.smtp.server import start_listener, start_submission
from gateway.store import checkpoint, db
from gateway.store.group_commit import GroupCommitter
from gateway.web.server import HttpListener

log = logging.getLogger("gateway")


@dataclass
class Gateway:
    """One running gateway: database, intake writer, listeners, dispatcher, scheduler."""

    settings: Settings
    clock: Clock = system_clock

    def __post_init__(self) -> None:
        self.wiring = Wiring(self.settings, self.clock)
        self._writer: GroupCommitter[Prepared | Delivery, Outcome] | None = None
        self._child: WriterProcess | None = None
        self.dispatcher: Dispatcher | None = None
        self.scheduler: Scheduler | None = None
        self._dispatch_stop = asyncio.Event()
        self._checkpoint_stop = asyncio.Event()
        self._checkpoint_task: asyncio.Task[None] | None = None
        self._dispatch_task: asyncio.Task[None] | None = None
        self._pending = 0
        self.bound: tuple[str, int] | None = None
        self.submission_bound: tuple[str, int] | None = None  # None: submission is off
        self._submission: asyncio.Server | None = None
        self._http: HttpListener | None = None
        self.http_bound: tuple[str, int] | None = None  # None: the support page is off

    # --- what tests, benchmarks and the CLI read ------------------------------------

    @property
    def engine(self) -> Engine:
        return self.wiring.engine

    @property
    def secret(self) -> bytes:
        return self.wiring.secret

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.wiring.sessions

    @property
    def rules(self) -> IntakeRules:
        return self.wiring.intake

    @property
    def writer_pid(self) -> int | None:
        """The intake writer's process id (None with HELPDESK_INTAKE_WRITER=thread)."""
        return self._child.pid if self._child is not None else None

    @property
    def writer_state(self) -> str:
        """``running``, ``restarting`` (a new writer is starting) or ``down`` (starting
        fails and is retried with backoff, or the gateway is stopped): /healthz reads it."""
        if self._child is not None:
            return self._child.state
        if self._writer is not None:
            return "running" if self._writer.alive else "down"
        return "down"

    @property
    def writer_restarts(self) -> int:
        """How many times a new intake writer took over from a dead one: /metrics reads it."""
        return self._child.restarts if self._child is not None else 0

    def init_database(self) -> None:
        self.wiring.init_database()

    def close(self) -> None:
        self.wiring.close()

    def make_dispatcher(self) -> Dispatcher:
        return parts.dispatcher(self.wiring)

    # --- intake -----------------------------------------------------------------------

    def _work(self, session: Session, item: Prepared | Delivery) -> Outcome:
        prep = prepare(item) if isinstance(item, Delivery) else item
        return ingest(session, prep, self.rules, self.clock())

    def _shunt(self, session: Session, item: Prepared | Delivery, exc: Exception) -> Outcome:
        delivery = item if isinstance(item, Delivery) else item.delivery
        return shunt(session, delivery, exc, self.clock())

    def ingest_now(self, delivery: Delivery) -> Outcome:
        """One mail in its own transaction (the pipe transport and tests), read under the
        same CPU and memory budget as in the writer (issue 14.3)."""
        s = self.settings
        prep = prepare_within(delivery, s.intake_cpu_budget_seconds, s.intake_memory_budget_mb)
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

    async def _start_writer(self) -> None:
        s = self.settings
        if s.intake_writer == "process":
            config = WriterConfig(
                s.db_url,
                s.sqlite_synchronous,
                self.rules,
                s.intake_cpu_budget_seconds,
                s.intake_memory_budget_mb,
            )
            child = WriterProcess(config)
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

    # --- start and stop ---------------------------------------------------------------

    async def start(self) -> asyncio.Server:
        s = self.settings
        self.wiring.require_database()
        submission = parts.submission_tls(self.wiring) if s.submission_listen else None
        http = parts.bind_http(self.wiring) if s.http_listen else None
        self.dispatcher = self.make_dispatcher()
        await self._start_writer()
        self._dispatch_stop.clear()
        self._dispatch_task = asyncio.ensure_future(self.dispatcher.run(self._dispatch_stop))
        if self.wiring.engine.dialect.name == "sqlite":  # the writer child leaves it to us
            self._checkpoint_stop.clear()
            self._checkpoint_task = asyncio.ensure_future(
                checkpoint.run(self.wiring.engine, self._checkpoint_stop)
            )
        self.scheduler = parts.scheduler(self.wiring)
        self.scheduler.start()
        host, port = s.listen_host_port
        handler = parts.smtp_handler(self.wiring, self.deliver)
        server = await start_listener(
            handler, host, port, hostname=s.domain, limits=self._session_limits()
        )
        self.bound = server.sockets[0].getsockname()[:2]
        log.info("listening on %s://%s:%d", s.listen_scheme, *self.bound)
        try:
            if submission is not None:
                await self._start_submission(*submission)
            if http is not None:
                await http.start(parts.web_app(self.wiring, self.deliver, http.bound, self))
                self._http, self.http_bound = http, http.bound
                log.info("support page on http://%s:%d", *self.http_bound)
        except BaseException:
            server.close()
            if self._submission is not None:
                self._submission.close()
            raise
        return server

    def _session_limits(self) -> SessionLimits:
        """One listener's session limits (issue 14.4), from the settings."""
        s = self.settings
        return SessionLimits(
            s.smtp_max_sessions, s.smtp_max_sessions_per_address, s.smtp_idle_timeout_seconds
        )

    async def _start_submission(self, context: object, cert: object) -> None:
        host, port = self.settings.submission_host_port
        self._submission = await start_submission(
            parts.submission_handler(self.wiring, self.deliver),
            host,
            port,
            tls_context=context,  # type: ignore[arg-type]
            hostname=self.settings.domain,
            limits=self._session_limits(),
        )
        self.submission_bound = self._submission.sockets[0].getsockname()[:2]
        log.info(
            "submission on smtp://%s:%d (STARTTLS, then AUTH); certificate %s, SHA-256 %s",
            *self.submission_bound,
            cert,
            tls.fingerprint(cert),  # type: ignore[arg-type]
        )

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
        if self._checkpoint_task is not None:
            self._checkpoint_stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._checkpoint_task, grace)
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
