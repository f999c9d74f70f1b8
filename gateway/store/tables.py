"""SQLAlchemy 2 models.

The raw bytes of every accepted mail are kept (guarantee 2); ``events`` is an
append-only audit log; ``thread_ids`` maps every Message-ID we have seen or sent
to its ticket, so a reply threads by In-Reply-To/References through one index
lookup whatever the mail client did to the subject.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    event,
    true,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in Python, naive UTC in the column, on SQLite and PostgreSQL alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Operator(Base):
    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Ticket(Base):
    __tablename__ = "tickets"

    # The id is the ticket number customers see: [#123].
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(Text)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(String(32))
    notify: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_address: Mapped[str | None] = mapped_column(String(320))
    locale: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    awaiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    follow_up_of: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    # "#notify-to addr" waits here until a mail from addr confirms it.
    notify_pending_address: Mapped[str | None] = mapped_column(String(320))
    # Set by a hard bounce of a notification to notify_address; mail stops until it changes.
    notify_bounced: Mapped[str | None] = mapped_column(Text)
    # The request as desk.dedup normalized it (subject + new text), and its SHA-256:
    # a later request of the same customer is compared with these, never re-parsed.
    request_digest: Mapped[str | None] = mapped_column(String(64))
    request_norm: Mapped[str | None] = mapped_column(Text)
    # The awaiting_since the last reminder was about: one reminder per waiting period.
    reminded_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the ticket was last listed in the operators' unanswered digest.
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # False once closed longer than the reopen window (or locked): cheap listings.
    reopenable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Set when the dedup sweep (or an operator) merged this ticket into another.
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))

    __table_args__ = (
        Index("ix_tickets_customer_status", "customer_id", "status"),
        # assignee_id: the queue's open counts read this index alone (issue 15, migration 0009)
        Index("ix_tickets_status_awaiting", "status", "awaiting_since", "assignee_id"),
        Index("ix_tickets_customer_digest", "customer_id", "request_digest"),
        Index("ix_tickets_customer_id", "customer_id", "id"),
        Index("ix_tickets_reopenable_closed", "reopenable", "closed_at"),
        Index("ix_tickets_created", "created_at"),
        # issue 15: the queue sorted by last change pages by (updated_at, id); a ticket's
        # page names the tickets merged into it.
        Index("ix_tickets_updated", "updated_at", "id"),
        Index("ix_tickets_duplicate_of", "duplicate_of"),
    )


class RawMail(Base):
    """Every accepted mail, byte for byte, keyed for idempotent intake (guarantee 3)."""

    __tablename__ = "raw_mails"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "mid:<Message-ID>" or "sha256:<hex of the bytes>" when there is none.
    idem_key: Mapped[str] = mapped_column(String(400), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16))
    mail_from: Mapped[str | None] = mapped_column(String(320))
    rcpt_tos: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    # processed | quarantined
    state: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (Index("ix_raw_mails_state", "state"),)


# The partial index's condition. Its PostgreSQL twin (``postgresql_where``) is attached only
# when PostgreSQL builds the schema: naming it here would import SQLAlchemy's PostgreSQL
# dialect into every process, ~60 ms of the SQLite pipe's cost (issue 14, item 15).
STRANGERS = sql_text("author_kind = 'stranger'")


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    raw_mail_id: Mapped[int | None] = mapped_column(ForeignKey("raw_mails.id"))
    message_id: Mapped[str | None] = mapped_column(String(998))
    author_kind: Mapped[str] = mapped_column(String(16))
    author_address: Mapped[str] = mapped_column(String(320))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    subject: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    flags: Mapped[str] = mapped_column(String(200), default="")  # space-separated desk Flags
    trace: Mapped[str] = mapped_column(Text)  # JSON list of decision lines
    defects: Mapped[str] = mapped_column(Text, default="[]")  # JSON list
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # SHA-256 of the normalized new text: the same content again in a ticket is collapsed.
    digest: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_messages_ticket_digest", "ticket_id", "digest"),
        # issue 15: the header counts held strangers' mail from an index of strangers' mail
        # only (partial: the planner never weighs it against a scan of all messages).
        Index("ix_messages_strangers", "id", sqlite_where=STRANGERS),
    )


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    filename: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ThreadId(Base):
    """A Message-ID known to belong to a ticket: the customer's, an operator's, or ours."""

    __tablename__ = "thread_ids"

    message_id: Mapped[str] = mapped_column(String(998), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)


class Event(Base):
    """One change of status: who, when, from, to, why. Never updated, never deleted."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(340))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    message_pk: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))


class Outbox(Base):
    """A notification to send, written in the transaction of the change (guarantee 4).

    The Message-ID is fixed when the row is written, so a resend after a crash
    between sending and marking carries the same id and clients show it once.
    ``context`` holds what the template needs, frozen at that moment: the mail
    says what was true when the change happened, whenever it goes out.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    to_address: Mapped[str] = mapped_column(String(320))
    locale: Mapped[str] = mapped_column(String(8))
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[str] = mapped_column(Text, default="")
    context: Mapped[str] = mapped_column(Text)  # JSON
    # auto-replied | auto-generated | no: the Auto-Submitted header (RFC 3834)
    auto_submitted: Mapped[str] = mapped_column(String(16))
    # pending | sent | failed | suppressed
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who asked for a mail a person asks for (the page's client, the ticket): issue 13.
    requester: Mapped[str | None] = mapped_column(String(320))

    __table_args__ = (
        Index("ix_outbox_due", "state", "next_attempt_at"),
        Index("ix_outbox_to_created", "to_address", "created_at"),
        Index("ix_outbox_requester_created", "requester", "created_at"),
    )


class WebSignin(Base):
    """A one-time sign-in link of the support page that was used (issue 7).

    The link itself is signed and carries its issue time, so only used ones
    need a row: the nonce's primary key makes a second use fail atomically,
    also when two instances receive the same click at once.
    """

    __tablename__ = "web_signins"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class LoginFailure(Base):
    """A wrong password, kept for the throttle that every instance shares (issue 14.9).

    ``key`` is ``smtp-login:<login>``, ``smtp-addr:<client address>``, or the
    same with ``web-``; a throttle counts the rows of its keys in the window.
    """

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(400))
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)


class WebSession(Base):
    """A signed-in browser of the support page (issue 14.12): the cookie names it, and
    signing out ends it here, so a copy of the cookie is worthless afterwards."""

    __tablename__ = "web_sessions"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    who: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


@event.listens_for(Base.metadata, "before_create")
def _postgresql_partial_indexes(target: object, connection: object, **_: object) -> None:
    """Give the partial index its condition on PostgreSQL too (see ``STRANGERS``)."""
    if getattr(getattr(connection, "dialect", None), "name", "") == "postgresql":
        for index in Message.__table__.indexes:
            if index.name == "ix_messages_strangers":
                index.dialect_kwargs["postgresql_where"] = STRANGERS
