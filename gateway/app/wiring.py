"""Settings → the plain values and objects every part takes (the composition root).

The only place besides ``cli`` that reads configuration: each package gets
its rules as a frozen value (``IntakeRules``, ``SweepRules``, ``DispatchRules``,
``WebConfig``) or an object built from them (the ``Notices`` that tell people,
the ``Desk`` of operator verbs), passed in explicitly — Mailman's global
``config`` object is what we avoid.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gateway.clock import Clock, system_clock
from gateway.config import ConfigError, Settings
from gateway.desk.model import Policy
from gateway.intake import IntakeRules
from gateway.notify.enqueue import Notices
from gateway.notify.faq import FaqEntry, FaqError, load_faq
from gateway.operations.desk import Desk
from gateway.operations.logins import Logins
from gateway.outcome import Tally
from gateway.store import db
from gateway.store.outbox import RateLimit

if TYPE_CHECKING:  # imported where used: `helpdesk ingest` needs none of them (issue 14)
    from gateway.notify.build import DispatchRules
    from gateway.schedule.jobs import SweepRules
    from gateway.schedule.scheduler import Intervals
    from gateway.web.backend import WebConfig


def load_secret(settings: Settings, *, create: bool = True) -> bytes:
    """HELPDESK_SECRET, else ``data_dir/secret.key``, made once with 32 random bytes.

    Reply and bounce addresses are signed with it; it must survive restarts and
    be the same on every instance sharing a database (set HELPDESK_SECRET there).
    A command that only reads (``create=False``) makes no file: it signs nothing,
    so a throwaway key stands in when there is none yet (issue 14, item 18).
    """
    if settings.secret:
        return settings.secret.encode()
    path = Path(settings.data_dir) / "secret.key"
    if not path.exists() and not create:
        return secrets.token_bytes(32)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def policy(settings: Settings) -> Policy:
    return Policy(
        reopen_days=settings.reopen_days,
        auto_close_days=settings.auto_close_days,
        remind_days_before=settings.remind_days_before,
        escalate_after=timedelta(hours=settings.escalate_after_hours),
        escalate_every=timedelta(hours=settings.escalate_every_hours),
        duplicate_similarity=settings.duplicate_similarity,
    )


def notices(settings: Settings, secret: bytes) -> Notices:
    return Notices(
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
        asked=RateLimit(settings.asked_limit, timedelta(minutes=settings.asked_window_minutes)),
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


def intake_rules(settings: Settings, secret: bytes, tell: Notices | None) -> IntakeRules:
    return IntakeRules(
        support=settings.support,
        domain=settings.domain,
        secret=secret,
        token_format=settings.token_format,
        policy=policy(settings),
        unknown_senders=settings.unknown_senders,
        register_hint=settings.register_hint,
        locale=settings.locale,
        own_id_domains=frozenset({settings.domain.lower()}),
        notices=tell,
        operator_dkim=settings.operator_dkim,
        dkim_keys=load_dkim_keys(settings),
    )


def sweep_rules(settings: Settings, tell: Notices | None) -> SweepRules:
    from gateway.schedule.jobs import SweepRules

    return SweepRules(
        policy=policy(settings),
        notices=tell,
        token_format=settings.token_format,
        dedup_window=timedelta(minutes=settings.dedup_window_minutes),
    )


def intervals(settings: Settings) -> Intervals:
    from gateway.schedule.scheduler import Intervals

    s = settings
    return Intervals(
        auto_close=timedelta(seconds=s.auto_close_interval_seconds),
        remind=timedelta(seconds=s.remind_interval_seconds),
        reopen_lapse=timedelta(seconds=s.reopen_interval_seconds),
        escalate=timedelta(seconds=s.escalate_interval_seconds),
        dedup=timedelta(seconds=s.dedup_interval_seconds),
    )


def faq(settings: Settings) -> tuple[FaqEntry, ...]:
    try:
        return tuple(load_faq(Path(settings.faq_path)))
    except FaqError as exc:
        raise ConfigError(f"{exc}; fix it or point HELPDESK_FAQ_PATH elsewhere") from None


def dispatch_rules(settings: Settings, secret: bytes) -> DispatchRules:
    from gateway.notify.build import DispatchRules

    return DispatchRules(
        support=settings.support,
        secret=secret,
        max_attempts=settings.notify_max_attempts,
        backoff=timedelta(seconds=settings.notify_backoff_seconds),
        faq=faq(settings),
        brand=settings.brand.strip(),
    )


def web_config(settings: Settings, secret: bytes, bound: tuple[str, int] | None) -> WebConfig:
    """The page's settings; mailed links use the public URL, else the bound address."""
    from gateway.web.backend import WebConfig

    s = settings
    secure = {"yes": True, "no": False}.get(
        s.http_cookie_secure, s.http_base_url.startswith("https://")
    )
    return WebConfig(
        secret=secret,
        support=s.support,
        domain=s.domain,
        base_url=s.http_public_url.rstrip("/")
        or (f"http://{bound[0]}:{bound[1]}" if bound else s.http_base_url),
        token_format=s.token_format,
        locale=s.locale,
        policy=policy(s),
        trusted_header=s.http_trusted_header,
        trusted_proxies=s.http_proxy_networks,
        signin_lifetime=timedelta(minutes=s.http_signin_minutes),
        session_lifetime=timedelta(hours=s.http_session_hours),
        secure_cookie=secure,
        faq=faq(s),
        notices=notices(s, secret),
        max_message_size=s.max_message_size,
    )


@dataclass
class Wiring:
    """One gateway's parts, built once from its settings: what ``serve`` runs and what
    every other command uses."""

    settings: Settings
    clock: Clock = system_clock
    writes: bool = True  # False: a command that only reads, and so creates no file
    secret: bytes = field(init=False, repr=False)
    engine: Engine = field(init=False)
    sessions: sessionmaker[Session] = field(init=False)
    notices: Notices = field(init=False)
    intake: IntakeRules = field(init=False)
    desk: Desk = field(init=False)
    tally: Tally = field(init=False, default_factory=Tally)  # mails answered (GET /metrics)

    def __post_init__(self) -> None:
        s = self.settings
        self.secret = load_secret(s, create=self.writes)
        self.engine = db.make_engine(  # the writer in this process (a thread) keeps its cache
            s.db_url,
            sqlite_synchronous=s.sqlite_synchronous,
            cache_mb=db.CACHE_MB if s.intake_writer == "process" else db.WRITER_CACHE_MB,
        )
        self.sessions = db.session_factory(self.engine)
        self.notices = notices(s, self.secret)
        self.intake = intake_rules(s, self.secret, self.notices)
        self.desk = Desk(self.sessions, self.clock, self.intake.policy, self.notices)
        self.logins = Logins(
            self.sessions,
            self.clock,
            self.desk.authenticate,
            self.settings.auth_max_failures,
            timedelta(minutes=self.settings.auth_failure_window_minutes),
        )

    @property
    def policy(self) -> Policy:
        return self.intake.policy

    def sweep_rules(self, *, quiet: bool = False) -> SweepRules:
        return sweep_rules(self.settings, None if quiet else self.notices)

    def require_database(self) -> None:
        db.require_database(self.engine)

    def init_database(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        db.upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()
