"""Settings: declared once, with the default and the reason beside each.

Read from ``--config PATH`` (default ``config/helpdesk.toml`` when it exists),
then ``HELPDESK_*`` environment variables, which win (DESIGN §6). The result is
a frozen value passed explicitly to whatever needs it; only ``app`` and ``cli``
read this module (Mailman's global ``config`` object is what we avoid).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_CONFIG_PATH = Path("config/helpdesk.toml")
ENV_PREFIX = "HELPDESK_"


class ConfigError(Exception):
    """A setting is missing or malformed; the message says which and how to fix it."""


def _setting(default: Any, why: str, *, secret: bool = False) -> Any:
    """A setting with its reason; secrets stay out of repr() and so out of logs."""
    return field(default=default, metadata={"why": why}, repr=not secret)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = _setting(Path("var"), "SQLite database, Maildir drop and quarantine live here")
    database_url: str = _setting("", "empty = SQLite file helpdesk.db in data_dir")
    domain: str = _setting("localhost", "the mail domain the gateway serves")
    support_address: str = _setting("", "empty = support@<domain>; where customers write")
    listen: str = _setting("smtp://127.0.0.1:2525", "smtp://host:port or lmtp://host:port")
    submission_listen: str = _setting(
        "", "operators' submission with STARTTLS and AUTH, smtp://host:port; empty = off"
    )
    submission_cert: str = _setting(
        "", "PEM certificate (chain) for submission STARTTLS; empty = self-signed, made once"
    )
    submission_key: str = _setting(
        "", "PEM private key of submission_cert; empty = in the certificate file"
    )
    smarthost: str = _setting("", "smtp://host:port for outgoing mail; empty = Maildir drop")
    locale: str = _setting("ru", "default language of customers' mail: ru or en")
    http_listen: str = _setting(
        "http://127.0.0.1:8025", "the support page, http://host:port; empty = off"
    )
    http_public_url: str = _setting(
        "", "the page's address as customers reach it, for mailed sign-in links; empty = listen"
    )
    http_trusted_header: str = _setting(
        "", "header naming the signed-in customer, set by the control panel's proxy; empty = off"
    )
    http_trusted_proxies: str = _setting(
        "", "addresses/networks whose trusted header is believed, comma-separated; empty = none"
    )
    http_signin_minutes: int = _setting(30, "a mailed one-time sign-in link works this long")
    http_session_hours: int = _setting(12, "a signed-in browser stays signed in this long")
    http_cookie_secure: str = _setting(
        "auto", "Secure session cookie: auto = when the public URL is https; yes; no"
    )
    max_message_size: int = _setting(25 * 1024 * 1024, "announced in EHLO SIZE; larger gets 552")
    unknown_senders: str = _setting("guest", "guest = unverified guest ticket; refuse = 550")
    register_hint: str = _setting(
        "Register this address in your hosting control panel, then write again.",
        "the sentence a refused unknown sender reads in the 550 reply",
    )
    token_format: str = _setting(
        "[#{number}]", "the ticket token in subjects; {number} is required"
    )
    reopen_days: int = _setting(30, "a closed ticket reopens by customer mail this many days")
    auto_close_days: int = _setting(30, "awaiting_customer longer than this closes without reply")
    intake_writer: str = _setting(
        "process", "process = parse and commit in a child, off the SMTP core; thread = in-process"
    )
    sqlite_synchronous: str = _setting("FULL", "FULL: a 250 survives power loss, not just a crash")
    smarthost_starttls: str = _setting(
        "auto", "auto = STARTTLS when the smarthost offers it; yes = required; no = never"
    )
    smarthost_user: str = _setting("", "AUTH user at the smarthost; empty = no AUTH")
    smarthost_password: str = _setting("", "AUTH password at the smarthost", secret=True)
    secret: str = _setting(
        "",
        "signs reply and bounce addresses; empty = generated once into data_dir/secret.key",
        secret=True,
    )
    notify_max_attempts: int = _setting(8, "a notification is given up after this many tries")
    notify_backoff_seconds: int = _setting(30, "first retry delay; doubles each try, 6 h at most")
    auto_reply_limit: int = _setting(
        10, "automatic mails to one address per window (FreeScout: 10 per 180 minutes)"
    )
    auto_reply_window_minutes: int = _setting(180, "the window of auto_reply_limit")
    faq_path: Path = _setting(Path("config/faq.toml"), "FAQ entries offered in 'ticket created'")
    remind_days_before: int = _setting(
        7, "one 'your reply is needed' reminder this many days before auto-close; 0 = none"
    )
    escalate_after_hours: int = _setting(
        24, "awaiting an operator longer than this goes into the operators' digest"
    )
    escalate_every_hours: int = _setting(24, "a ticket is listed in the digest at most this often")
    operator_dkim: bool = _setting(
        True, "trust an operator's reply with a valid DKIM signature of their domain"
    )
    dkim_keys: str = _setting(
        "", "TOML file of pinned DKIM keys ('sel._domainkey.dom' = 'v=DKIM1; …'); empty = DNS"
    )
    operator_copies: bool = _setting(
        True, "operators get every customer message by mail, with a reply address of their own"
    )
    team_address: str = _setting(
        "", "operators' shared address for digests and hints; empty = every operator"
    )
    duplicate_similarity: float = _setting(
        0.75, "a new request this similar (0..1, shingle Jaccard) to an open one is a duplicate"
    )
    dedup_window_minutes: int = _setting(
        60, "the dedup sweep re-checks tickets made this recently (two instances racing)"
    )
    auto_close_interval_seconds: int = _setting(300, "how often serve runs the auto-close job")
    remind_interval_seconds: int = _setting(900, "how often serve runs the reminder job")
    reopen_interval_seconds: int = _setting(3600, "how often serve marks lapsed reopen windows")
    escalate_interval_seconds: int = _setting(900, "how often serve looks for unanswered tickets")
    dedup_interval_seconds: int = _setting(60, "how often serve runs the dedup sweep")
    # --- issue 14 (items 1-12): limits that keep one client or one mail from drowning intake ---
    intake_cpu_budget_seconds: float = _setting(
        10.0, "CPU seconds one mail may take to parse in the writer; beyond it: quarantine"
    )
    intake_memory_budget_mb: int = _setting(
        1024, "MiB one mail's parse may add to the writer; beyond it: quarantine"
    )
    smtp_max_sessions: int = _setting(
        500, "concurrent SMTP/LMTP sessions in all; more get 421 (also kept under the fd limit)"
    )
    smtp_max_sessions_per_address: int = _setting(
        20, "concurrent sessions from one client address; more get 421"
    )
    smtp_idle_timeout_seconds: int = _setting(
        300, "a session that makes no progress (NOOP, RSET, HELP, VRFY do not count) this long: 421"
    )
    smtp_max_recipients: int = _setting(100, "RCPT per mail (RFC 5321 §4.5.3.1.8); more: 452")
    auth_max_failures: int = _setting(
        5, "wrong passwords per login (and 4x per client address) in the window before 454"
    )
    auth_failure_window_minutes: int = _setting(15, "the window of that AUTH and web login limit")
    # Issue 14 (deployment): health and metrics for the sysadmin's monitoring.
    http_monitoring: bool = _setting(
        True, "GET /healthz and GET /metrics on the support page's listener; false = 404"
    )
    health_outbox_seconds: int = _setting(
        900, "/healthz answers 503 when a due notification has waited longer than this"
    )
    # --- issue 13: mail that reads right -------------------------------------------------
    asked_limit: int = _setting(
        5,
        "mails a person asks for (sign-in link, address confirmation) per window, counted "
        "per address and per requester separately; never part of the loop limit",
    )
    asked_window_minutes: int = _setting(60, "the window of asked_limit")
    brand: str = _setting(
        "", "the sender's name in From, the mail's header and footer; empty = 'Support'"
    )
    ehlo_name: str = _setting("", "the name the dispatcher gives in EHLO; empty = the domain")

    @property
    def support(self) -> str:
        return (self.support_address or f"support@{self.domain}").lower()

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'helpdesk.db').resolve()}"

    @property
    def listen_scheme(self) -> str:
        return urlsplit(self.listen).scheme

    @property
    def smarthost_host_port(self) -> tuple[str, int]:
        return host_port(self.smarthost, "HELPDESK_SMARTHOST")

    @property
    def listen_host_port(self) -> tuple[str, int]:
        return host_port(self.listen, "HELPDESK_LISTEN")

    @property
    def submission_host_port(self) -> tuple[str, int]:
        return host_port(self.submission_listen, "HELPDESK_SUBMISSION_LISTEN")

    @property
    def http_host_port(self) -> tuple[str, int]:
        return host_port(self.http_listen, "HELPDESK_HTTP_LISTEN")

    @property
    def http_base_url(self) -> str:
        """Where mailed links point: the public URL, else the listener's own address."""
        return (self.http_public_url or self.http_listen).rstrip("/")

    @property
    def http_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        try:
            return tuple(
                ipaddress.ip_network(part.strip(), strict=False)
                for part in self.http_trusted_proxies.split(",")
                if part.strip()
            )
        except ValueError as exc:
            raise ConfigError(
                f"HELPDESK_HTTP_TRUSTED_PROXIES={self.http_trusted_proxies!r}: {exc}; "
                "use addresses or networks like 10.0.0.5, 10.0.0.0/24"
            ) from None


def host_port(url: str, name: str) -> tuple[str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise ConfigError(f"{name}={url!r} must look like smtp://127.0.0.1:2525")
    return parts.hostname, port
