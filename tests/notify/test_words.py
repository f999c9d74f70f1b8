"""Words a customer and an operator read (issue 13): reasons from codes, in the mail's language;
closed tickets say what a reply does and until when; dates as the locale writes them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from gateway.desk.model import Status
from gateway.notify.context import ticket_context
from gateway.notify.render import Templates, default_root, long_date
from gateway.notify.words import command_reason

# Every reason the state machine writes into the audit that a status mail may carry.
AUDIT_REASONS = [
    ("awaiting_customer", "in_progress", "taken by operator"),
    ("in_progress", "closed", "resolved by operator"),
    ("in_progress", "closed", "closed administratively: спам и оскорбления"),
    ("awaiting_operator", "in_progress", "set to in_progress by operator"),
    ("awaiting_customer", "closed_no_reply", "no reply for 31 days"),
    ("in_progress", "closed", "duplicate of #7"),
]
ENGLISH_AUDIT = re.compile(
    r"by operator|by customer|customer replied|administratively|no reply for"
)
LATIN_WORD = re.compile(r"\b[a-z]{4,}\b")


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates(default_root())


def status_mail(
    templates: Templates, locale: str, old: str, new: str, reason: str, **extra: object
) -> tuple[str, str]:
    ticket = SimpleNamespace(id=12, subject="Сайт", status=new, customer_name="Анна")
    context = ticket_context(
        ticket,  # type: ignore[arg-type]
        "status",
        support="support@example.net",
        token_format="[#{number}]",
        window_days=30,
        locale=locale,
        extra={"old_status": old, "new_status": new, "reason": reason, **extra},
    )
    return templates.render("status", locale, context)


@pytest.mark.parametrize("locale", ["ru", "en"])
@pytest.mark.parametrize(("old", "new", "reason"), AUDIT_REASONS)
def test_status_mail_never_shows_the_audit_strings(templates, locale, old, new, reason):
    """The audit's English ("resolved by operator", "closed administratively: …") never
    reaches the customer: each reason is a translated sentence or nothing."""
    extra = {"reopen_until": "2027-01-15", "locked": reason.startswith("closed admin")}
    for part in status_mail(templates, locale, old, new, reason, **extra):
        assert reason not in part and reason.partition(":")[0] + ":" not in part
        if locale == "ru":
            assert not ENGLISH_AUDIT.search(part), part
        assert "duplicate of" not in part


def test_admin_close_reason_the_operator_gave_reaches_the_customer(templates):
    """#admin-close REASON: the operator's reason is said, in a Russian sentence."""
    text, html = status_mail(
        templates, "ru", "in_progress", "closed", "closed administratively: спам", locked=True
    )
    for part in (text, html):
        assert "в административном порядке" in part and "Причина: спам" in part


@pytest.mark.parametrize("locale", ["ru", "en"])
@pytest.mark.parametrize("new", ["closed", "closed_no_reply"])
def test_a_closed_ticket_says_what_a_reply_does_and_until_when(templates, locale, new):
    """Closed: "reply by <date> and it reopens; later, a new linked ticket"; no #close offered."""
    for part in status_mail(
        templates, locale, "in_progress", new, "resolved by operator", reopen_until="2027-01-15"
    ):
        assert long_date("2027-01-15", locale) in part
        assert ("откроется снова" if locale == "ru" else "reopens") in part
        assert "#close" not in part


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_an_admin_closed_ticket_says_a_reply_becomes_a_new_ticket(templates, locale):
    """Closed administratively: a reply cannot reopen it, and the mail says so."""
    for part in status_mail(
        templates, locale, "in_progress", "closed", "closed administratively: x", locked=True
    ):
        assert ("станет новой заявкой" if locale == "ru" else "becomes a new ticket") in part
        assert "#close" not in part and "2027" not in part


REASONS = [
    "unknown command #закрой; see the list of commands below",
    "#take takes nothing after it",
    "use #status in_progress, awaiting_customer or awaiting_operator",
    "#admin-close needs a reason after it",
    "no operator 'nobody': use a name or address",
    "#merge needs the number of another existing ticket",
    "use #notify on or #notify off",
    "#close is a customer's command",
    "ticket #3 was closed administratively and is locked; only notes can be added",
    "ticket #3 is closed; it reopens when the customer writes",
    "tickets #3 and #4 belong to different customers; only one customer's tickets can be merged",
]


@pytest.mark.parametrize("reason", REASONS)
def test_command_error_in_russian_explains_in_russian(reason):
    """A Russian command_error says why in Russian (English stays in the trace)."""
    said = command_reason(reason, "ru")
    # What may stay Latin: a command (#take), a status code, what the operator typed («…»).
    rest = re.sub(r"#[\w-]+|\b(in_progress|awaiting_\w+|on|off)\b|«[^»]*»", "", said)
    assert not LATIN_WORD.search(rest), said
    assert re.search("[а-я]", said)
    assert command_reason(reason, "en") == reason


def test_dates_read_as_the_locale_writes_them():
    """15 января 2027 г. / 15 January 2027, never 15.01.2027 in English mail."""
    assert long_date("2027-01-15", "ru") == "15 января 2027 г."
    assert long_date("2027-01-15", "en") == "15 January 2027"
    assert long_date("15.01.2027", "en") == "15 January 2027"
    day = (datetime(2026, 12, 16, tzinfo=UTC) + timedelta(days=30)).date().isoformat()
    assert long_date(day, "en") == "15 January 2027"
    assert Status.CLOSED.label("en")  # labels still come from the one table
