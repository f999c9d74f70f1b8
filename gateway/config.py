"""Settings: declared once, with the default and the reason beside each.

Read from ``--config PATH`` (default ``config/helpdesk.toml`` when it exists),
then ``HELPDESK_*`` environment variables, which win (DESIGN §6). The result is
a frozen value passed explicitly to whatever needs it; only ``app`` and ``cli``
read this module (Mailman's global ``config`` object is what we avoid).
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
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
        return _host_port(self.smarthost, "HELPDESK_SMARTHOST")

    @property
    def listen_host_port(self) -> tuple[str, int]:
        return _host_port(self.listen, "HELPDESK_LISTEN")

    @property
    def submission_host_port(self) -> tuple[str, int]:
        return _host_port(self.submission_listen, "HELPDESK_SUBMISSION_LISTEN")

    @property
    def http_host_port(self) -> tuple[str, int]:
        return _host_port(self.http_listen, "HELPDESK_HTTP_LISTEN")

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


def _host_port(url: str, name: str) -> tuple[str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise ConfigError(f"{name}={url!r} must look like smtp://127.0.0.1:2525")
    return parts.hostname, port


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(value)


_bool.__name__ = "boolean (true or false)"

_CONVERTERS = {
    bool: _bool,
    "bool": _bool,
    Path: Path,
    int: int,
    str: str,
    float: float,
    "Path": Path,
    "int": int,
    "str": str,
    "float": float,
}


def _coerce(name: str, kind: Any, value: Any, source: str) -> Any:
    convert = _CONVERTERS.get(kind, str)
    try:
        return convert(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{source}: {name} = {value!r} is not a valid {getattr(convert, '__name__', kind)}"
        ) from None


def load_settings(
    config_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build Settings from file, then environment, then explicit overrides; validate."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    known = {f.name: f for f in fields(Settings)}
    path = config_path if config_path is not None else DEFAULT_CONFIG_PATH
    if config_path is not None and not path.exists():
        raise ConfigError(f"config file {path} does not exist; check --config")
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from None
        for key, value in data.items():
            if key not in known:
                raise ConfigError(f"{path}: unknown setting {key!r}; see the README's reference")
            values[key] = _coerce(key, known[key].type, value, str(path))
    for name, spec in known.items():
        env_name = ENV_PREFIX + name.upper()
        if env_name in env:
            values[name] = _coerce(name, spec.type, env[env_name], env_name)
    for name, value in overrides.items():
        if value is not None:
            values[name] = value
    settings = replace(Settings(), **values)
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    """Refuse to start on settings that would misbehave later, saying how to fix them."""
    if settings.listen_scheme not in ("smtp", "lmtp"):
        raise ConfigError(
            f"HELPDESK_LISTEN={settings.listen!r}: the scheme must be smtp:// or lmtp://"
        )
    settings.listen_host_port  # noqa: B018 - validates host and port
    if settings.smarthost:
        _host_port(settings.smarthost, "HELPDESK_SMARTHOST")
    if settings.submission_listen:
        if urlsplit(settings.submission_listen).scheme != "smtp":
            raise ConfigError(
                f"HELPDESK_SUBMISSION_LISTEN={settings.submission_listen!r}: "
                "the scheme must be smtp://, e.g. smtp://0.0.0.0:587"
            )
        settings.submission_host_port  # noqa: B018 - validates host and port
    if settings.submission_key and not settings.submission_cert:
        raise ConfigError("HELPDESK_SUBMISSION_KEY is set without HELPDESK_SUBMISSION_CERT")
    if settings.intake_writer not in ("process", "thread"):
        raise ConfigError(
            f"HELPDESK_INTAKE_WRITER={settings.intake_writer!r}: use process or thread"
        )
    if settings.locale not in ("ru", "en"):
        raise ConfigError(f"HELPDESK_LOCALE={settings.locale!r}: use ru or en")
    if settings.unknown_senders not in ("guest", "refuse"):
        raise ConfigError(f"unknown_senders={settings.unknown_senders!r}: use guest or refuse")
    if "{number}" not in settings.token_format:
        raise ConfigError(
            f"token_format={settings.token_format!r} must contain {{number}}, e.g. [#{{number}}]"
        )
    if "@" not in settings.support:
        raise ConfigError(f"support address {settings.support!r} is not an address")
    if settings.max_message_size < 1024:
        raise ConfigError("max_message_size must be at least 1024 bytes")
    if settings.smarthost_starttls not in ("auto", "yes", "no"):
        raise ConfigError(
            f"HELPDESK_SMARTHOST_STARTTLS={settings.smarthost_starttls!r}: use auto, yes or no"
        )
    if settings.auto_reply_limit < 1 or settings.auto_reply_window_minutes < 1:
        raise ConfigError("auto_reply_limit and auto_reply_window_minutes must be at least 1")
    if settings.notify_max_attempts < 1 or settings.notify_backoff_seconds < 1:
        raise ConfigError("notify_max_attempts and notify_backoff_seconds must be at least 1")
    if not 0.5 <= settings.duplicate_similarity <= 1.0:
        raise ConfigError(f"duplicate_similarity={settings.duplicate_similarity}: use 0.5 … 1.0")
    if settings.remind_days_before < 0 or settings.remind_days_before >= settings.auto_close_days:
        raise ConfigError("remind_days_before must be 0 (off) or less than auto_close_days")
    for name in (
        "escalate_after_hours",
        "escalate_every_hours",
        "dedup_window_minutes",
        "auto_close_interval_seconds",
        "remind_interval_seconds",
        "reopen_interval_seconds",
        "escalate_interval_seconds",
        "dedup_interval_seconds",
        "auto_close_days",
        "reopen_days",
    ):
        if getattr(settings, name) < 1:
            raise ConfigError(f"{name} must be at least 1")
    if settings.sqlite_synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise ConfigError("sqlite_synchronous must be OFF, NORMAL, FULL or EXTRA")
    _validate_http(settings)


def _validate_http(settings: Settings) -> None:
    """The support page's settings (issue 7)."""
    if settings.http_listen:
        if urlsplit(settings.http_listen).scheme != "http":
            raise ConfigError(
                f"HELPDESK_HTTP_LISTEN={settings.http_listen!r}: use http://host:port "
                "(TLS belongs to the proxy in front), or empty to turn the page off"
            )
        settings.http_host_port  # noqa: B018 - validates host and port
    if settings.http_public_url and urlsplit(settings.http_public_url).scheme not in (
        "http",
        "https",
    ):
        raise ConfigError(
            f"HELPDESK_HTTP_PUBLIC_URL={settings.http_public_url!r}: use https://host/path"
        )
    settings.http_proxy_networks  # noqa: B018 - validates the networks
    if settings.http_trusted_header and not settings.http_trusted_proxies:
        raise ConfigError(
            "HELPDESK_HTTP_TRUSTED_HEADER is set but HELPDESK_HTTP_TRUSTED_PROXIES is empty: "
            "name the control panel's proxy addresses, or the header is never believed"
        )
    if settings.http_cookie_secure not in ("auto", "yes", "no"):
        raise ConfigError(
            f"HELPDESK_HTTP_COOKIE_SECURE={settings.http_cookie_secure!r}: use auto, yes or no"
        )
    if settings.http_signin_minutes < 1 or settings.http_session_hours < 1:
        raise ConfigError("http_signin_minutes and http_session_hours must be at least 1")


def reference() -> list[tuple[str, str, str]]:
    """(environment variable, default, why) for every setting: the README's table."""
    return [
        (ENV_PREFIX + f.name.upper(), str(f.default), f.metadata["why"]) for f in fields(Settings)
    ]
