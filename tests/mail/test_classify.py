"""classify(): automatic mail must never be answered or move a ticket; people's mail must."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gateway.mail.classify import MailKind, classify
from gateway.mail.compose import own_message_id
from gateway.mail.parse import parse
from gateway.mail.parsed import ParsedMail

FIXTURES = Path(__file__).parents[2] / "fixtures" / "mails"


def load(name: str) -> ParsedMail:
    return parse((FIXTURES / name).read_bytes())


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        pytest.param("autoreply-rfc3834.eml", MailKind.AUTO_REPLY, id="auto-submitted"),
        pytest.param("vacation-russian.eml", MailKind.AUTO_REPLY, id="avtootvet-subject"),
        pytest.param("dsn-bounce.eml", MailKind.BOUNCE, id="multipart-report"),
        pytest.param("precedence-bulk.eml", MailKind.BULK, id="precedence-bulk"),
    ],
)
def test_automatic_fixtures(name: str, kind: MailKind) -> None:
    # no envelope (as with `helpdesk import` of an mbox): the headers alone must tell
    """Real auto-replies, bounces and bulk mail are automatic from their headers alone."""
    result = classify(load(name), None)
    assert result.kind is kind
    assert result.automatic


@pytest.mark.parametrize(
    "name",
    [
        "koi8r-no-charset.eml",
        "cp1251-declared-koi8r.eml",
        "cp1251-quoted-printable.eml",
        "encoded-word-subject-koi8r.eml",
        "html-only-outlook.eml",
        "attachment-rfc2231-russian-name.eml",
        "no-message-id.eml",
        "reply-with-quote-ru.eml",
        "nudge-ru.eml",
        "close-command.eml",
    ],
)
def test_customer_fixtures_are_human(name: str) -> None:
    """Real customers' mails, in every charset and shape, are people's mail to answer."""
    mail = load(name)
    assert mail.from_ is not None
    result = classify(mail, mail.from_.address, frozenset({"example.com"}))
    assert result.kind is MailKind.HUMAN
    assert not result.automatic


def build(subject: str = "Не работает VPN", headers: str = "") -> ParsedMail:
    raw = (
        "From: Ivan Petrov <ivan.petrov@example.net>\r\n"
        "To: support@example.com\r\n"
        f"Subject: {subject}\r\n"
        "Date: Thu, 26 Nov 2026 10:00:00 +0300\r\n"
        "Message-ID: <c0ffee.42@example.net>\r\n"
        f"{headers}"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Здравствуйте! С утра не подключается VPN, ошибка 809.\r\n"
    )
    return parse(raw.encode())


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        pytest.param("", MailKind.HUMAN, id="plain"),
        pytest.param("Auto-Submitted: no\r\n", MailKind.HUMAN, id="auto-submitted-no"),
        pytest.param("Auto-Submitted: No\r\n", MailKind.HUMAN, id="auto-submitted-No"),
        pytest.param("Auto-Submitted: auto-replied\r\n", MailKind.AUTO_REPLY, id="auto-replied"),
        pytest.param(
            "Auto-Submitted: auto-generated\r\n", MailKind.AUTO_REPLY, id="auto-generated"
        ),
        pytest.param(
            "Auto-Submitted: auto-replied; owner-email=it@example.net\r\n",
            MailKind.AUTO_REPLY,
            id="auto-replied-with-parameter",
        ),
        pytest.param("X-Autoreply: yes\r\n", MailKind.AUTO_REPLY, id="x-autoreply"),
        pytest.param("X-Autorespond: yes\r\n", MailKind.AUTO_REPLY, id="x-autorespond"),
        pytest.param(
            "X-Auto-Response-Suppress: All\r\n", MailKind.AUTO_REPLY, id="x-auto-response-suppress"
        ),
        pytest.param("Precedence: bulk\r\n", MailKind.BULK, id="precedence-bulk"),
        pytest.param("Precedence: junk\r\n", MailKind.BULK, id="precedence-junk"),
        pytest.param("Precedence: list\r\n", MailKind.BULK, id="precedence-list"),
        pytest.param("Precedence: first-class\r\n", MailKind.HUMAN, id="precedence-other"),
        pytest.param("List-Id: <users.lists.example.net>\r\n", MailKind.BULK, id="list-id"),
        pytest.param(
            "List-Unsubscribe: <mailto:leave@example.net>\r\n", MailKind.BULK, id="list-unsub"
        ),
        pytest.param(
            'Content-Type: multipart/report; report-type=delivery-status;\r\n boundary="b1"\r\n',
            MailKind.BOUNCE,
            id="folded-multipart-report",
        ),
    ],
)
def test_headers_decide(headers: str, kind: MailKind) -> None:
    """Auto-Submitted, X-Autoreply, Precedence, List-* and DSN headers make mail automatic."""
    assert classify(build(headers=headers), "ivan.petrov@example.net").kind is kind


@pytest.mark.parametrize(
    ("subject", "kind"),
    [
        pytest.param("Автоответ: Re: [#88] Не работает VPN", MailKind.AUTO_REPLY, id="avtootvet"),
        pytest.param(
            "Автоматический ответ: [#88] Не работает VPN", MailKind.AUTO_REPLY, id="outlook-ru"
        ),
        pytest.param(
            "Automatic reply: [#88] VPN down", MailKind.AUTO_REPLY, id="outlook-en-automatic"
        ),
        pytest.param("Out of Office: [#88] VPN down", MailKind.AUTO_REPLY, id="out-of-office"),
        pytest.param("Auto-Reply: VPN down", MailKind.AUTO_REPLY, id="auto-reply"),
        pytest.param("Abwesenheitsnotiz: VPN", MailKind.AUTO_REPLY, id="abwesenheit"),
        pytest.param("Re: Автоответ в Outlook не работает", MailKind.HUMAN, id="reply-about"),
        pytest.param("Как настроить автоответ?", MailKind.HUMAN, id="question-about"),
        pytest.param("Re: [#88] Не работает VPN", MailKind.HUMAN, id="ordinary-reply"),
    ],
)
def test_subject_decides_when_headers_are_silent(subject: str, kind: MailKind) -> None:
    """An "Автоответ:" or "Out of Office:" subject is an auto-reply; asking about one is not."""
    assert classify(build(subject=subject), "ivan.petrov@example.net").kind is kind


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param("Undeliverable: [#88] Не работает VPN", id="exchange-en"),
        pytest.param("Недоставленное сообщение: [#88] Не работает VPN", id="exchange-ru"),
        pytest.param("Mail delivery failed: returning message to sender", id="exim"),
    ],
)
def test_bounce_subjects_are_automatic(subject: str) -> None:
    """Bounce subjects ("Undeliverable:", "Недоставленное сообщение:", exim's) are automatic."""
    assert classify(build(subject=subject), "ivan.petrov@example.net").automatic


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param("В отпуске не работает VPN", id="v-otpuske"),
        pytest.param("Отпуск сотрудника: отключить доступ к 1С", id="otpusk"),
    ],
)
def test_customer_subject_about_vacation_is_human(subject: str) -> None:
    """A customer's subject about a vacation ("отпуск") is a person writing, not an auto-reply."""
    assert classify(build(subject=subject), "ivan.petrov@example.net").kind is MailKind.HUMAN


@pytest.mark.parametrize("envelope", ["", "<>", " <> "])
def test_null_envelope_sender_is_a_bounce(envelope: str) -> None:
    """Mail from the null sender <> is a bounce and is never answered."""
    assert classify(load("koi8r-no-charset.eml"), envelope).kind is MailKind.BOUNCE


@pytest.mark.parametrize(
    "envelope",
    ["MAILER-DAEMON@mx.example.net", "postmaster@example.net", "bounces@example.net"],
)
def test_daemon_envelope_sender_is_a_bounce(envelope: str) -> None:
    """Mail from MAILER-DAEMON, postmaster or bounces@ is a bounce and is never answered."""
    assert classify(build(), envelope).kind is MailKind.BOUNCE


def test_daemon_from_header_is_a_bounce() -> None:
    """A From: postmaster@ header marks a bounce even without an envelope (an import)."""
    raw = (FIXTURES / "no-message-id.eml").read_bytes()
    mail = parse(raw.replace(b"From: monitoring@example.net", b"From: postmaster@example.net"))
    assert classify(mail, None).kind is MailKind.BOUNCE


@pytest.mark.parametrize(
    ("message_id", "domains", "kind"),
    [
        pytest.param(own_message_id("example.net"), {"example.net"}, MailKind.LOOP, id="ours"),
        pytest.param(own_message_id("example.net"), {"example.com"}, MailKind.HUMAN, id="other"),
        pytest.param(own_message_id("example.net"), set(), MailKind.HUMAN, id="no-own-domains"),
        # a person on the company's own domain: their client's id is not ours
        pytest.param("<c0ffee.42@example.net>", {"example.net"}, MailKind.HUMAN, id="colleague"),
    ],
)
def test_our_own_message_id_is_a_loop(message_id: str, domains: set[str], kind: MailKind) -> None:
    """Only the ids we stamp are a loop, not every id that ends in our domain."""
    mail = replace(build(), message_id=message_id)
    assert classify(mail, "ivan.petrov@example.net", frozenset(domains)).kind is kind


def test_mail_without_message_id_is_not_a_loop() -> None:
    """Mail without a Message-ID from our own domain is a person's, not our mail coming back."""
    mail = load("no-message-id.eml")
    assert classify(mail, "monitoring@example.net", frozenset({"example.net"})).kind is (
        MailKind.HUMAN
    )
