"""parse(): raw bytes of real client mail → the text, subject and files an operator reads."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.mail.parse import parse
from gateway.mail.parsed import ParsedMail, UnparseableMail

FIXTURES = Path(__file__).parents[2] / "fixtures" / "mails"


def load(name: str) -> ParsedMail:
    return parse((FIXTURES / name).read_bytes())


# name, subject, Message-ID, From address, words the text must contain
EXPECTED = [
    pytest.param(
        "koi8r-no-charset.eml",
        "Не работает принтер в бухгалтерии",
        "<20261124091240.A1B2C3@mail.example.net>",
        "ivan.petrov@example.net",
        ("Здравствуйте!", "Принтер в бухгалтерии не печатает", "замятие бумаги", "сдаём отчёт"),
        id="koi8r-no-charset",
    ),
    pytest.param(
        "cp1251-declared-koi8r.eml",
        "Счёт на оплату за ноябрь",
        "<5f1e2a7c.20261125110317@example.net>",
        "maria@example.net",
        ("Добрый день!", "счёт на оплату за ноябрь", "Реквизиты не изменились"),
        id="cp1251-declared-koi8r",
    ),
    pytest.param(
        "cp1251-quoted-printable.eml",
        "Акт сверки по договору № 15/2026",
        "<000b01db3f2a$5c1d7e40$14587ac0$@example.net>",
        "olga@example.net",
        (
            # one logical line across three quoted-printable soft line breaks
            "акт сверки взаимных расчётов по договору № 15/2026 за период с 01.01.2026 по "
            "30.11.2026 в двух экземплярах",
            "ООО «Ромашка»",
        ),
        id="cp1251-quoted-printable",
    ),
    pytest.param(
        "encoded-word-subject-koi8r.eml",
        "Re: Fwd: [#123] Не приходят письма с сайта",
        "<1764135900.774411.2231@example.net>",
        "alexey@example.net",
        ("Пересылаю ещё раз", "письма с формы обратной связи", "последнее было 20 ноября"),
        id="encoded-word-subject-koi8r",
    ),
    pytest.param(
        "html-only-outlook.eml",
        "Не могу войти в личный кабинет",
        "<AM0PR07MB4417E1C2F3A4B5C6D7E8F9A0B1C2D3E4"
        "@AM0PR07MB4417.eurprd07.prod.outlook.example.net>",
        "anna.volkova@example.net",
        ("Добрый день!", "не могу войти в личный кабинет", "очистить кэш — не помогло"),
        id="html-only-outlook",
    ),
    pytest.param(
        "attachment-rfc2231-russian-name.eml",
        "Ошибка в счёте",
        "<8d2f0c1e-3b4a-4c5d-9e6f-7a8b9c0d1e2f@example.net>",
        "d.orlov@example.net",
        ("Во вложении счёт №42", "договор у нас на 6"),
        id="attachment-rfc2231-russian-name",
    ),
    pytest.param(
        "autoreply-rfc3834.eml",
        "Out of Office: Re: [#57] VPN certificate expired",
        "<autoreply.1764162002.31337@example.net>",
        "peter.miller@example.net",
        ("I am out of the office until Monday",),
        id="autoreply-rfc3834",
    ),
    pytest.param(
        "vacation-russian.eml",
        "Автоответ: Re: [#88] Не работает VPN",
        "<1764151540.9921.vacation@example.net>",
        "e.morozova@example.net",
        ("Я в отпуске до 7 декабря", "обращайтесь к Сергею Иванову"),
        id="vacation-russian",
    ),
    pytest.param(
        "dsn-bounce.eml",
        "Undelivered Mail Returned to Sender",
        "<20261126090003.7F1E21A0077@mx.example.com>",
        "MAILER-DAEMON@mx.example.com",
        ("your message could not", "550 5.1.1", "User unknown"),
        id="dsn-bounce",
    ),
    pytest.param(
        "precedence-bulk.eml",
        "Новости недели",
        "<newsletter.2026-48.support=example.com@example.net>",
        "news@example.net",
        ("скидка 20% на продление хостинга",),
        id="precedence-bulk",
    ),
    pytest.param(
        "no-message-id.eml",
        "Disk usage on web-01 is 91%",
        None,
        "monitoring@example.net",
        ("disk usage on web-01 (/var) has been above 90%",),
        id="no-message-id",
    ),
    pytest.param(
        "reply-with-quote-ru.eml",
        "Re: [#123] Не работает интернет",
        "<CAF3x9pQe7T0M8xRk2m4Zb6V1nL5yHs0Wq=Ab+Cd@mail.example.net>",
        "ivan.petrov@example.net",
        ("после перезагрузки роутера интернет заработал", "ошибка сертификата", "> Здравствуйте"),
        id="reply-with-quote-ru",
    ),
    pytest.param(
        "nudge-ru.eml",
        "Re: [#123] Не работает интернет",
        "<a1b2c3d4e5.nudge@example.net>",
        "ivan.petrov@example.net",
        ("Когда вы ответите?",),
        id="nudge-ru",
    ),
    pytest.param(
        "close-command.eml",
        "Re: [#123] Не работает интернет",
        "<f00dfeed.close@example.net>",
        "ivan.petrov@example.net",
        ("#close", "заявку можно закрыть"),
        id="close-command",
    ),
]


def test_every_fixture_has_expectations() -> None:
    """Every mail in fixtures/mails has its expected reading here: no fixture goes unchecked."""
    on_disk = {p.name for p in FIXTURES.glob("*.eml")}
    described = {case.values[0] for case in EXPECTED}
    assert on_disk == described


@pytest.mark.parametrize(("name", "subject", "message_id", "sender", "words"), EXPECTED)
def test_subject_is_decoded(
    name: str, subject: str, message_id: str | None, sender: str, words: tuple[str, ...]
) -> None:
    """The subject reads as the sender wrote it, whatever the charset or encoded words."""
    assert load(name).subject == subject


@pytest.mark.parametrize(("name", "subject", "message_id", "sender", "words"), EXPECTED)
def test_message_id_is_normalised_or_none(
    name: str, subject: str, message_id: str | None, sender: str, words: tuple[str, ...]
) -> None:
    """The Message-ID is read in its <…> form, or None when the mail has none."""
    assert load(name).message_id == message_id


@pytest.mark.parametrize(("name", "subject", "message_id", "sender", "words"), EXPECTED)
def test_sender_address(
    name: str, subject: str, message_id: str | None, sender: str, words: tuple[str, ...]
) -> None:
    """The From address is found in every real client's mail, bounces included."""
    mail = load(name)
    assert mail.from_ is not None
    assert mail.from_.address == sender


@pytest.mark.parametrize(("name", "subject", "message_id", "sender", "words"), EXPECTED)
def test_text_is_readable(
    name: str, subject: str, message_id: str | None, sender: str, words: tuple[str, ...]
) -> None:
    """The body reads as words an operator understands, in every charset and transfer encoding."""
    text = load(name).text
    for word in words:
        assert word in text


@pytest.mark.parametrize(
    ("name", "display_name"),
    [
        pytest.param("cp1251-declared-koi8r.eml", "Мария Соколова", id="koi8r-encoded-word"),
        pytest.param("encoded-word-subject-koi8r.eml", "Алексей Смирнов", id="koi8r-b"),
        pytest.param("html-only-outlook.eml", "Анна Волкова", id="utf8-b"),
        pytest.param("dsn-bounce.eml", "Mail Delivery System", id="comment-form"),
        pytest.param("no-message-id.eml", "", id="bare-address"),
    ],
)
def test_sender_display_name(name: str, display_name: str) -> None:
    """The sender's name is decoded from KOI8-R or UTF-8 encoded words, and the comment form."""
    mail = load(name)
    assert mail.from_ is not None
    assert mail.from_.name == display_name


# name → (filename, content type, size in bytes) of every attachment
ATTACHMENTS = [
    pytest.param(
        "attachment-rfc2231-russian-name.eml",
        (("Счёт на оплату №42 от 25.11.2026.pdf", "application/pdf", 1249),),
        id="rfc2231-continued-utf8-name",
    ),
    pytest.param("html-only-outlook.eml", (), id="html-only"),
    pytest.param("reply-with-quote-ru.eml", (), id="plain-reply"),
    pytest.param("koi8r-no-charset.eml", (), id="koi8r"),
]


@pytest.mark.parametrize(("name", "expected"), ATTACHMENTS)
def test_attachments(name: str, expected: tuple[tuple[str, str, int], ...]) -> None:
    """Attachments keep their file name (RFC 2231 Russian names too), type and size."""
    found = tuple((a.filename, a.content_type, a.size) for a in load(name).attachments)
    assert found == expected


def test_attachment_payload_is_decoded_from_base64() -> None:
    """An attachment's bytes are the file itself, decoded from base64 byte for byte."""
    (pdf,) = load("attachment-rfc2231-russian-name.eml").attachments
    assert pdf.data.startswith(b"%PDF-1.4\n")
    assert pdf.data.endswith(b"%%EOF\n")
    assert bytes(range(256)) in pdf.data
    assert not pdf.inline


def test_returned_original_in_a_bounce_is_an_attachment_not_body_text() -> None:
    """The bounced mail inside a DSN is kept whole as .eml; its words are not the sender's."""
    mail = load("dsn-bounce.eml")
    (original,) = mail.attachments
    assert original.content_type == "message/rfc822"
    assert original.filename.endswith(".eml")
    assert b"Subject:" in original.data
    inner_body = original.data.split(b"\n\n", 1)[1].strip().splitlines()[0].decode()
    assert inner_body and inner_body not in mail.text


def test_attachment_mail_keeps_its_text_part_as_text() -> None:
    """A mail with an attachment keeps its words as text and the file's bytes out of it."""
    mail = load("attachment-rfc2231-russian-name.eml")
    assert "Проверьте, пожалуйста." in mail.text
    assert "%PDF" not in mail.text


@pytest.mark.parametrize(
    ("name", "in_reply_to", "references"),
    [
        pytest.param(
            "encoded-word-subject-koi8r.eml",
            ("<ticket-123-3.a8f2@example.com>",),
            ("<1763990000.11@example.net>", "<ticket-123-3.a8f2@example.com>"),
            id="folded-references",
        ),
        pytest.param(
            "reply-with-quote-ru.eml",
            ("<ticket-123-2.feed@example.com>",),
            ("<ticket-123-2.feed@example.com>",),
            id="reply",
        ),
        pytest.param("koi8r-no-charset.eml", (), (), id="new-request"),
    ],
)
def test_threading_headers(
    name: str, in_reply_to: tuple[str, ...], references: tuple[str, ...]
) -> None:
    """In-Reply-To and References (folded over lines too) are read in order for threading."""
    mail = load(name)
    assert mail.in_reply_to == in_reply_to
    assert mail.references == references


@pytest.mark.parametrize(
    ("name", "utc"),
    [
        pytest.param(
            "koi8r-no-charset.eml", datetime(2026, 11, 24, 6, 12, 40, tzinfo=UTC), id="msk"
        ),
        pytest.param(
            "html-only-outlook.eml", datetime(2026, 11, 26, 7, 2, 10, tzinfo=UTC), id="gmt"
        ),
        pytest.param(
            "dsn-bounce.eml", datetime(2026, 11, 26, 9, 0, 3, tzinfo=UTC), id="trailing-comment"
        ),
    ],
)
def test_date_in_utc(name: str, utc: datetime) -> None:
    """The Date header is read as a moment in UTC, whatever zone or comment it carries."""
    assert load(name).date == utc


def test_headers_are_decoded_for_classification() -> None:
    """Headers such as Auto-Submitted are read decoded, and a missing one is None."""
    mail = load("autoreply-rfc3834.eml")
    assert mail.header("Auto-Submitted") == "auto-replied"
    assert mail.header("X-No-Such-Header") is None
    assert load("encoded-word-subject-koi8r.eml").header("subject") == (
        "Re: Fwd: [#123] Не приходят письма с сайта"
    )


def test_html_only_mail_gets_text_without_markup() -> None:
    """An HTML-only Outlook mail reads as plain text, without tags, styles or entities."""
    mail = load("html-only-outlook.eml")
    assert mail.html is not None
    assert "MsoNormal" in mail.html
    for residue in ("<", "MsoNormal", "font-family", "&nbsp;", "&#8212;", "shapedefaults"):
        assert residue not in mail.text
    assert "Браузер Edge, пробовала очистить кэш — не помогло." in mail.text.splitlines()


def test_html_only_mail_keeps_link_targets() -> None:
    """Links in an HTML-only mail keep their addresses in the text."""
    assert "https://portal.example.com/login" in load("html-only-outlook.eml").text


def test_plain_text_mail_has_no_html() -> None:
    """A plain-text mail has no HTML part to show."""
    assert load("koi8r-no-charset.eml").html is None


def test_text_has_no_carriage_returns() -> None:
    """The text has plain line ends and no trailing CR, as an operator reads it."""
    text = load("koi8r-no-charset.eml").text
    assert "\r" not in text
    assert text.endswith("Иван Петров")


def test_parsed_mail_survives_pickling() -> None:
    """A parsed mail survives pickling whole, as it crosses to the writer and import workers."""
    mail = load("attachment-rfc2231-russian-name.eml")
    assert pickle.loads(pickle.dumps(mail)) == mail


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b" \r\n\r\n\t", id="whitespace"),
        pytest.param(b"\x00\x01\x02Subject: x\r\n\r\nhi", id="nul-bytes"),
        pytest.param(b"just some text\nwithout any headers at all\n", id="plain-text"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", id="png"),
        pytest.param(b"<html><body>hi</body></html>", id="html-file"),
        pytest.param(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", id="pdf-file"),
    ],
)
def test_garbage_is_unparseable(raw: bytes) -> None:
    """Bytes that are no message (empty, a PNG, a PDF, bare text) are refused as unparseable."""
    with pytest.raises(UnparseableMail):
        parse(raw)


_HEAD = b"From: Ivan <ivan@example.net>\r\nTo: support@example.com\r\n"
_PRIVET = "Привет".encode()


@pytest.mark.parametrize(
    ("raw", "field", "expected"),
    [
        pytest.param(
            _HEAD + b"Subject: x\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n'
            b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + _PRIVET + b"\r\n",
            "text",
            "Привет",
            id="missing-close-boundary",
        ),
        pytest.param(
            _HEAD + b"Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n0J/RgNC40LLQtdGC!!!\r\n",
            "text",
            "Привет",
            id="base64-with-junk",
        ),
        pytest.param(
            _HEAD
            + b"Subject: x\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\n"
            + _PRIVET
            + b"\r\n",
            "text",
            "Привет",
            id="unknown-charset",
        ),
        pytest.param(
            _HEAD + b"Subject: =?x-unknown?B?0J/RgNC40LLQtdGC?=\r\n\r\nbody\r\n",
            "subject",
            "Привет",
            id="encoded-word-unknown-charset",
        ),
        pytest.param(
            _HEAD + b"Subject: =?utf-8?B?0J/R?= =?utf-8?B?gNC40LLQtdGC?=\r\n\r\nbody\r\n",
            "subject",
            "Привет",
            id="encoded-words-split-inside-a-character",
        ),
        pytest.param(
            _HEAD + "Subject: Привет, мир\r\n\r\nтекст\r\n".encode(),
            "subject",
            "Привет, мир",
            id="raw-utf8-subject",
        ),
        pytest.param(
            _HEAD
            + b"Subject: caf\xe9\r\n\r\nd\xe9j\xe0 vu, tr\xe8s bien, r\xe9sum\xe9 re\xe7u\r\n",
            "text",
            "déjà vu, très bien, résumé reçu",
            id="latin1-8bit-is-not-read-as-cyrillic",
        ),
        pytest.param(
            _HEAD + b"Date: yesterday at noon\r\nSubject: x\r\n\r\nbody\r\n",
            "date",
            None,
            id="unparseable-date",
        ),
        pytest.param(
            b"From: <<<>>>@@\r\nSubject: x\r\n\r\nbody\r\n", "from_", None, id="unparseable-from"
        ),
    ],
)
def test_broken_mail_is_read_best_effort(raw: bytes, field: str, expected: object) -> None:
    """Broken mail (lost boundary, bad base64, unknown charset, bad date) is still read."""
    mail = parse(raw)
    value = getattr(mail, field)
    if isinstance(expected, str):
        assert expected in value
    else:
        assert value == expected


@pytest.mark.parametrize(
    ("raw", "defect"),
    [
        pytest.param(
            _HEAD
            + b'Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="XX"'
            b"\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n",
            "CloseBoundaryNotFoundDefect",
            id="missing-close-boundary",
        ),
        pytest.param(
            _HEAD + b"Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\n"
            b"--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XX--\r\n",
            "NoBoundaryInMultipartDefect",
            id="no-boundary-parameter",
        ),
        pytest.param(
            _HEAD + b"This line is not a header\r\nSubject: x\r\n\r\nbody\r\n",
            "MissingHeaderBodySeparatorDefect",
            id="line-without-colon",
        ),
    ],
)
def test_defects_are_recorded_not_raised(raw: bytes, defect: str) -> None:
    """MIME defects are recorded on the parsed mail for the trace, never raised."""
    assert defect in parse(raw).defects


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.eml")))
def test_truncated_mail_does_not_raise(name: str) -> None:
    """A mail cut short anywhere still parses, keeping its subject and Message-ID."""
    raw = (FIXTURES / name).read_bytes()
    for cut in (len(raw) // 3, len(raw) // 2):
        assert isinstance(parse(raw[:cut]), ParsedMail)
    cut_body = parse(raw[:-7])
    assert cut_body.subject == parse(raw).subject
    assert cut_body.message_id == parse(raw).message_id


def test_a_huge_references_header_keeps_the_threads_root_and_nearest_ids() -> None:
    """Issue 14.2: 150,000 References are capped (first and last few hundred), each id once."""
    from gateway.mail.header_values import MAX_IDS_HEAD, MAX_IDS_TAIL

    ids = [f"<r{i}@example.ru>" for i in range(150_000)]
    folded = "\r\n ".join([*ids[:10], *ids])  # the first ten twice: de-duplicated
    raw = (
        "From: ivan@example.ru\r\nSubject: Re: x\r\nMessage-ID: <big@example.ru>\r\n"
        f"In-Reply-To: {ids[-1]} {ids[-1]}\r\nReferences: {folded}\r\n\r\ntext\r\n"
    ).encode()
    parsed = parse(raw)
    assert parsed.in_reply_to == (ids[-1],)
    assert len(parsed.references) == MAX_IDS_HEAD + MAX_IDS_TAIL
    assert parsed.references[:MAX_IDS_HEAD] == tuple(ids[:MAX_IDS_HEAD])
    assert parsed.references[-MAX_IDS_TAIL:] == tuple(ids[-MAX_IDS_TAIL:])


def test_a_big_single_part_text_is_read_from_its_start_and_marked_cut() -> None:
    """Issue 14.3: a 5 MB one-part text gives its first MiB of text and a BodyTruncated defect."""
    from gateway.mail.parse import MAX_TEXT_BYTES

    line = "Сайт не работает с утра, ошибка 502.\r\n"
    body = (line * (5 * (1 << 20) // len(line))).encode("cp1251")
    raw = b"From: ivan@example.ru\r\nSubject: big\r\nContent-Type: text/plain\r\n\r\n" + body
    parsed = parse(raw)
    assert parsed.text.startswith("Сайт не работает с утра")
    assert len(parsed.text) <= MAX_TEXT_BYTES and "BodyTruncated" in parsed.defects
