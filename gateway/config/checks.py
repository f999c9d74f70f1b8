"""Settings that would misbehave later are refused at start, with how to fix them."""

from __future__ import annotations

from urllib.parse import urlsplit

from gateway.config.settings import ConfigError, Settings, host_port


def validate(settings: Settings) -> None:
    """Refuse to start on settings that would misbehave later, saying how to fix them."""
    _validate_listeners(settings)
    _validate_database(settings)
    _validate_words(settings)
    _validate_numbers(settings)
    _validate_http(settings)


def _validate_listeners(settings: Settings) -> None:
    if settings.listen_scheme not in ("smtp", "lmtp"):
        raise ConfigError(
            f"HELPDESK_LISTEN={settings.listen!r}: the scheme must be smtp:// or lmtp://"
        )
    settings.listen_host_port  # noqa: B018 - validates host and port
    if settings.smarthost:
        host_port(settings.smarthost, "HELPDESK_SMARTHOST")
    if settings.submission_listen:
        if urlsplit(settings.submission_listen).scheme != "smtp":
            raise ConfigError(
                f"HELPDESK_SUBMISSION_LISTEN={settings.submission_listen!r}: "
                "the scheme must be smtp://, e.g. smtp://0.0.0.0:587"
            )
        settings.submission_host_port  # noqa: B018 - validates host and port
    if settings.submission_key and not settings.submission_cert:
        raise ConfigError("HELPDESK_SUBMISSION_KEY is set without HELPDESK_SUBMISSION_CERT")


# Issue 14 (item 18): a URL SQLAlchemy would answer with a traceback about a missing driver.
_PG_EXAMPLE = "postgresql+psycopg://USER@HOST:5432/DATABASE"


def _validate_database(settings: Settings) -> None:
    """Only the drivers we ship: SQLite (built in) and PostgreSQL through psycopg 3."""
    url = settings.database_url.strip()
    if not url:
        return
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    dialect, _, driver = scheme.partition("+")
    if dialect == "sqlite" and driver in ("", "pysqlite"):
        return
    if dialect in ("postgresql", "postgres") and driver in ("", "psycopg2", "pg8000", "asyncpg"):
        raise ConfigError(
            f"HELPDESK_DATABASE_URL starts with {scheme}://, which asks for a driver that is not "
            f"installed; write postgresql+psycopg://… (psycopg 3), e.g. {_PG_EXAMPLE}"
        )
    if dialect == "postgresql" and driver == "psycopg":
        return
    if dialect in ("mysql", "mariadb"):
        raise ConfigError(
            f"HELPDESK_DATABASE_URL starts with {scheme}://: MySQL and MariaDB are not supported; "
            f"use PostgreSQL ({_PG_EXAMPLE}) or leave it empty for SQLite in the data directory"
        )
    raise ConfigError(
        f"HELPDESK_DATABASE_URL: {scheme or url[:20]!r} is not a database this gateway can use; "
        f"write {_PG_EXAMPLE}, sqlite:////absolute/path/helpdesk.db, or leave it empty"
    )


def _validate_words(settings: Settings) -> None:
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


def _validate_numbers(settings: Settings) -> None:
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
