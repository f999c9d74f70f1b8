"""Is this the same request again? Normalizing, fingerprints and near-duplicates (DESIGN §4).

Pure domain: plain strings in, plain values out. The tables hold realistic
requests: a customer who re-sends with a greeting or "пожалуйста!!!" added must
land on the first ticket, and the same customer's next, different problem must not.
"""

from __future__ import annotations

import hashlib
import unicodedata

import pytest

from gateway.desk.dedup import (
    KEEP_CHARS,
    MIN_NEAR_CHARS,
    SHINGLE,
    Candidate,
    best_match,
    digest,
    normalize,
    request_text,
    shingles,
    similarity,
)
from gateway.desk.model import Policy

THRESHOLD = Policy().duplicate_similarity  # 0.75, the setting's default

RU_SUBJECT = "Не открывается сайт"
RU = (
    "После обновления WordPress сайт vetclinic-spb.ru показывает ошибку 502 Bad Gateway. "
    "Вчера всё работало, в панели управления ошибок нет."
)
RU_LONG = (
    f"{RU} Кэш чистили, плагины отключали через FTP, PHP переключали с 8.1 на 8.2 и обратно — "
    "не помогло. Сайт нужен к понедельнику, по нему идёт запись клиентов."
)
RU_SHORT = "Сайт vetclinic-spb.ru не открывается с утра, ошибка 502. Что делать?"
RU_MAIL_SUBJECT = "Не приходит почта"
RU_MAIL = (
    "Не приходит почта на ящик info@vetclinic-spb.ru: письма возвращаются с ошибкой 550. "
    "В панели управления ошибок нет."
)

EN_SUBJECT = "Site is down"
EN = (
    "Since the WordPress update our site vetclinic-spb.com shows 502 Bad Gateway. "
    "It worked yesterday and the control panel shows no errors."
)
EN_MAIL_SUBJECT = "Mail bounces"
EN_MAIL = (
    "Mail to info@vetclinic-spb.com bounces with error 550 since yesterday. "
    "The control panel shows no errors."
)


# --- normalize -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Сайт НЕ Работает", "сайт не работает", id="ru-case"),
        pytest.param("Site is DOWN", "site is down", id="en-case"),
        pytest.param("Straße", "strasse", id="casefold-not-lower"),
        pytest.param("ЁЛКА, ещё Ёж", "елка еще еж", id="yo-read-as-ye"),
        pytest.param(
            "Помогите!!! Сайт... не работает?!", "помогите сайт не работает", id="ru-punct"
        ),
        pytest.param("Help!!! The site... is down?!", "help the site is down", id="en-punct"),
        pytest.param("«Ошибка» — 502; (с утра)", "ошибка 502 с утра", id="typographic-punct"),
        pytest.param("e-mail: info@shop.example.ru", "e mail info@shop.example.ru", id="address"),
        pytest.param("snake_case_name", "snake case name", id="underscore-is-punct"),
        pytest.param("  сайт\t\tне\n\nработает \r\n", "сайт не работает", id="whitespace"),
        pytest.param("сайт\u00a0не\u2003работает", "сайт не работает", id="unicode-spaces"),
        pytest.param("PHP 8.2, ошибка 502", "php 8.2 ошибка 502", id="digits-kept"),
        pytest.param("", "", id="empty"),
        pytest.param("!!! ... ???", "", id="punct-only"),
        pytest.param(
            unicodedata.normalize("NFD", "Ёлка и йод"),
            "елка и йод",
            id="decomposed-letters",
        ),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    """Case, ё/е, punctuation and runs of white space make no difference; words and digits do."""
    assert normalize(text) == expected


@pytest.mark.parametrize(
    ("subject", "text", "expected"),
    [
        pytest.param(RU_SUBJECT, "Ошибка 502.", "не открывается сайт ошибка 502", id="ru"),
        pytest.param("Site is down", "Error 502.", "site is down error 502", id="en"),
        pytest.param("Помогите", "", "помогите", id="subject-only"),
        pytest.param("", "Ошибка 502", "ошибка 502", id="text-only"),
        pytest.param("Сайт", "не\nработает!", "сайт не работает", id="joined-by-space"),
    ],
)
def test_request_text_is_the_normalized_subject_and_text(
    subject: str, text: str, expected: str
) -> None:
    """A request is its subject followed by its text, normalized as one."""
    assert request_text(subject, text) == expected


def test_request_text_tells_requests_apart_by_subject() -> None:
    """The same body under different subjects is a different request ("Помогите" says little)."""
    body = "Помогите, пожалуйста, срочно!"
    assert request_text("Не открывается сайт", body) != request_text("Не приходит почта", body)


# --- digest --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param("Сайт не работает", "САЙТ НЕ РАБОТАЕТ", id="ru-case"),
        pytest.param("Сайт не работает.", "Сайт не работает!!!", id="ru-punct"),
        pytest.param("Сайт  не\nработает", "Сайт не работает", id="ru-spaces"),
        pytest.param("Ещё не работает", "Еще не работает", id="yo"),
        pytest.param("The site is down.", "the site is DOWN!!!", id="en-case-punct"),
        pytest.param(RU, RU.replace(". ", ".\n\n").upper(), id="re-sent-from-the-web-form"),
    ],
)
def test_digest_is_equal_for_texts_differing_only_in_case_punctuation_or_spaces(
    a: str, b: str
) -> None:
    """Copies that differ only in case, punctuation or spacing fingerprint the same."""
    assert digest(normalize(a)) == digest(normalize(b))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param("Ошибка 502", "Ошибка 504", id="one-digit"),
        pytest.param("сайт не работает", "не работает сайт", id="word-order"),
        pytest.param("Сайт не работает", "Сайт не работает совсем", id="word-added"),
    ],
)
def test_digest_differs_for_different_words(a: str, b: str) -> None:
    """Any change of words or digits changes the fingerprint."""
    assert digest(normalize(a)) != digest(normalize(b))


def test_digest_is_the_hex_sha256_of_the_utf8_text() -> None:
    """Stored fingerprints stay comparable: hex SHA-256 of the UTF-8 bytes."""
    assert digest("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    text = normalize(RU)
    assert digest(text) == hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- shingles and similarity ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("абвгдеж", {"абвгд", "бвгде", "вгдеж"}, id="sliding-window"),
        pytest.param("сайт", {"сайт"}, id="shorter-than-a-shingle"),
        pytest.param("ааааааа", {"ааааа"}, id="repeats-count-once"),
        pytest.param("", {""}, id="empty"),
    ],
)
def test_shingles(text: str, expected: set[str]) -> None:
    """A text is the set of its character 5-grams; a shorter text is its own single shingle."""
    assert SHINGLE == 5
    assert shingles(text) == expected


@pytest.mark.parametrize(
    ("subject", "first", "again"),
    [
        pytest.param(RU_SUBJECT, RU, f"{RU} Пожалуйста!!!", id="ru-pozhaluysta"),
        pytest.param(RU_SUBJECT, RU, f"{RU} Помогите, пожалуйста!!!", id="ru-pomogite"),
        pytest.param(RU_SUBJECT, RU, f"Здравствуйте! {RU}", id="ru-greeting"),
        pytest.param(RU_SUBJECT, RU, f"Добрый день! {RU} Спасибо, Анна", id="ru-greeting-thanks"),
        pytest.param(RU_SUBJECT, RU_SHORT, f"{RU_SHORT} Пожалуйста!!!", id="ru-short-pozhaluysta"),
        pytest.param(EN_SUBJECT, EN, f"{EN} Thanks", id="en-thanks"),
        pytest.param(EN_SUBJECT, EN, f"Hi, {EN}", id="en-greeting"),
        pytest.param(EN_SUBJECT, EN, f"Hello, {EN} Thanks in advance!", id="en-greeting-thanks"),
        pytest.param(EN_SUBJECT, EN, f"{EN} Please help!!!", id="en-please"),
        pytest.param(
            RU_SUBJECT,
            RU_SHORT,
            f"Здравствуйте! {RU_SHORT}",
            id="ru-short-greeting",
        ),
    ],
)
def test_a_re_sent_request_is_a_near_duplicate(subject: str, first: str, again: str) -> None:
    """The same request re-sent with a greeting, "пожалуйста!!!" or "Thanks" added matches."""
    a, b = request_text(subject, first), request_text(subject, again)
    assert a != b
    assert similarity(a, b) >= THRESHOLD
    match = best_match(b, [Candidate(1, True, digest(a), a)], THRESHOLD)
    assert match is not None and match.number == 1 and not match.exact


@pytest.mark.parametrize(
    ("first", "other"),
    [
        pytest.param(
            (RU_SUBJECT, RU),
            (RU_SUBJECT, RU.replace("vetclinic-spb.ru", "autoparts-msk.ru")),
            id="ru-other-site",  # 0.785 alike, but another domain
        ),
        pytest.param(
            (RU_SUBJECT, RU),
            (RU_SUBJECT, RU.replace("502 Bad Gateway", "500 Internal Server Error")),
            id="ru-other-error",
        ),
        pytest.param((RU_SUBJECT, RU), (RU_MAIL_SUBJECT, RU_MAIL), id="ru-other-problem"),
        pytest.param(
            (EN_SUBJECT, EN),
            (EN_SUBJECT, EN.replace("vetclinic-spb.com", "autoparts-msk.com")),
            id="en-other-site",  # 0.779 alike, but another domain
        ),
        pytest.param(
            (EN_SUBJECT, EN),
            (EN_SUBJECT, EN.replace("502 Bad Gateway", "500 Internal Server Error")),
            id="en-other-error",
        ),
        pytest.param((EN_SUBJECT, EN), (EN_MAIL_SUBJECT, EN_MAIL), id="en-other-problem"),
        pytest.param(
            (RU_SUBJECT, RU_LONG),
            (RU_SUBJECT, RU_LONG.replace("vetclinic-spb.ru", "autoparts-msk.ru")),
            id="ru-long-other-site",
        ),
        pytest.param(
            (EN_SUBJECT, EN),
            (EN_SUBJECT, EN.replace("502", "504")),
            id="en-other-error-code",
        ),
    ],
)
def test_another_problem_of_the_same_customer_is_not_a_near_duplicate(
    first: tuple[str, str], other: tuple[str, str]
) -> None:
    """The same customer's different site or error is never matched, however alike the words."""
    a, b = request_text(*first), request_text(*other)
    assert best_match(a, [Candidate(1, True, digest(b), b)], THRESHOLD) is None


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        pytest.param("сайт не работает", "сайт не работает", 1.0, id="identical"),
        pytest.param("абвгдеж", "клмнопр", 0.0, id="nothing-shared"),
        pytest.param("абвгдеж", "абвгдез", 2 / 4, id="jaccard"),  # {абвгд, бвгде} of 4
        pytest.param("сайт", "сайт", 1.0, id="short-identical"),
        pytest.param("сайт", "сайты", 0.0, id="short-compared-whole"),
    ],
)
def test_similarity_is_the_jaccard_of_shingle_sets(a: str, b: str, expected: float) -> None:
    """Similarity is |shared shingles| / |all shingles|, 1.0 for equal texts, and symmetric."""
    assert similarity(a, b) == pytest.approx(expected)
    assert similarity(b, a) == pytest.approx(expected)


# --- best_match ----------------------------------------------------------------------


def req(text: str, subject: str = RU_SUBJECT) -> str:
    return request_text(subject, text)


def cand(number: int, is_open: bool, text: str, subject: str = RU_SUBJECT) -> Candidate:
    """A candidate as intake stores it: the full request's digest, its first KEEP_CHARS."""
    normalized = req(text, subject)
    return Candidate(number, is_open, digest(normalized), normalized[:KEEP_CHARS])


NEAR = f"{RU} Помогите, пожалуйста!!!"
# Under MIN_NEAR_CHARS with the subject: "да", "спасибо", "помогите" say little on their own.
SHORT = "Помогите!"
SHORT_NEAR = "Помогите срочно!"
LONGER = "Помогите срочно, очень нужно!"  # over MIN_NEAR_CHARS, and like SHORT_NEAR
LONG = "Сайт не открывается. " * (KEEP_CHARS // 20)
LONG_COPY = LONG + "Ошибка 502."  # differs only after the first KEEP_CHARS characters
OPEN, CLOSED = True, False


@pytest.mark.parametrize(
    ("request_", "candidates", "threshold", "expected"),
    [
        # expected: (number, open, exact) or None
        pytest.param(RU, [], THRESHOLD, None, id="no-candidates"),
        pytest.param(RU, [cand(5, OPEN, RU)], THRESHOLD, (5, OPEN, True), id="exact"),
        pytest.param(RU, [cand(5, OPEN, NEAR)], THRESHOLD, (5, OPEN, False), id="near"),
        pytest.param(
            RU,
            [cand(3, OPEN, NEAR), cand(5, OPEN, RU)],
            THRESHOLD,
            (5, OPEN, True),
            id="exact-beats-older-near",
        ),
        pytest.param(
            RU,
            [cand(3, CLOSED, RU), cand(5, OPEN, RU)],
            THRESHOLD,
            (5, OPEN, True),
            id="open-beats-older-closed",
        ),
        pytest.param(
            RU,
            [cand(3, CLOSED, RU), cand(5, OPEN, NEAR)],
            THRESHOLD,
            (5, OPEN, False),
            id="open-near-beats-closed-exact",
        ),
        pytest.param(
            RU,
            [cand(3, CLOSED, NEAR)],
            THRESHOLD,
            (3, CLOSED, False),
            id="closed-near-when-nothing-open",
        ),
        pytest.param(
            RU,
            [cand(9, OPEN, RU), cand(4, OPEN, RU), cand(6, OPEN, RU)],
            THRESHOLD,
            (4, OPEN, True),
            id="oldest-open-among-equals",
        ),
        pytest.param(
            RU,
            [cand(8, CLOSED, RU), cand(2, CLOSED, RU)],
            THRESHOLD,
            (2, CLOSED, True),
            id="oldest-closed-among-equals",
        ),
        pytest.param(
            RU,
            [cand(9, OPEN, NEAR), cand(4, OPEN, NEAR)],
            THRESHOLD,
            (4, OPEN, False),
            id="oldest-among-equal-nears",
        ),
        pytest.param(
            RU, [cand(5, OPEN, RU_MAIL, RU_MAIL_SUBJECT)], THRESHOLD, None, id="another-problem"
        ),
        pytest.param(RU, [cand(5, OPEN, NEAR)], 0.95, None, id="below-threshold"),
        pytest.param(
            RU,
            [cand(5, OPEN, NEAR)],
            similarity(req(RU), req(NEAR)),
            (5, OPEN, False),
            id="at-threshold",
        ),
        pytest.param(
            SHORT, [cand(5, OPEN, SHORT.upper())], THRESHOLD, (5, OPEN, True), id="short-exact"
        ),
        pytest.param(SHORT, [cand(5, OPEN, SHORT_NEAR)], 0.1, None, id="short-request-no-near"),
        pytest.param(LONGER, [cand(5, OPEN, SHORT_NEAR)], 0.1, None, id="short-candidate-no-near"),
        pytest.param(LONG, [cand(5, OPEN, LONG)], THRESHOLD, (5, OPEN, True), id="long-exact"),
        pytest.param(
            LONG_COPY,
            [cand(5, OPEN, LONG)],
            THRESHOLD,
            (5, OPEN, False),
            id="long-near-reported-exact",
        ),
    ],
)
def test_best_match(
    request_: str,
    candidates: list[Candidate],
    threshold: float,
    expected: tuple[int, bool, bool] | None,
) -> None:
    """Open beats closed, then exact beats near, then the oldest wins; short texts need exact."""
    match = best_match(req(request_), candidates, threshold)
    if expected is None:
        assert match is None
        return
    assert match is not None
    assert (match.number, match.open, match.exact) == expected
    if not match.exact:
        original = next(c for c in candidates if c.number == match.number)
        compared = req(request_)[:KEEP_CHARS]  # both sides as stored: the first KEEP_CHARS
        assert match.score == pytest.approx(similarity(compared, original.normalized))


def test_the_short_table_rows_are_short_and_the_others_long_enough() -> None:
    """The rows above test what they say: short texts under MIN_NEAR_CHARS, the rest over."""
    assert len(req(SHORT)) < MIN_NEAR_CHARS and len(req(SHORT_NEAR)) < MIN_NEAR_CHARS
    assert len(req(LONGER)) >= MIN_NEAR_CHARS
    # Over the 0.1 those rows ask for: only the shortness keeps them apart.
    assert similarity(req(SHORT), req(SHORT_NEAR)) > 0.1
    assert similarity(req(LONGER), req(SHORT_NEAR)) > 0.1
    assert len(req(RU)) >= MIN_NEAR_CHARS and len(req(NEAR)) >= MIN_NEAR_CHARS
    assert len(req(LONG)) > KEEP_CHARS
