"""Which delivery reports say our mail failed for good (issue 13, ``gateway.mail.bounce``).

RFC 3464 and RFC 6533 reports, and — through GNU Mailman's flufl.bounce — the
formats without a machine-readable part (Gmail, GMX, Yahoo, old Postfix and
Exim). A delay or a relay report is never a permanent failure.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from gateway.mail.bounce import hard_failure

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
needs_corpus = pytest.mark.skipif(not CORPUS.exists(), reason=f"no corpus at {CORPUS}")


def corpus_mail(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


@needs_corpus
@pytest.mark.parametrize(
    "name",
    [
        "flanker/bounce/gmail-invalid-address.eml",
        "deltachat/gmx_ndn.eml",
        "deltachat/yahoo_ndn.eml",
        "spamassassin/t.rules__BOUNCE_MESSAGE__1.eml",
    ],
)
def test_a_bounce_without_an_rfc3464_part_is_still_a_permanent_failure(name):
    """Gmail, GMX, Yahoo, Exim bounces: dead addresses stop getting mail."""
    assert hard_failure(corpus_mail(name)), name


@needs_corpus
@pytest.mark.parametrize("name", ["deltachat/testrun_ndn.eml", "deltachat/testrun_ndn_2.eml"])
def test_a_global_delivery_status_report_is_read(name):
    """RFC 6533 (message/global-delivery-status): the per-recipient block counts too."""
    reason = hard_failure(corpus_mail(name))
    assert reason is not None and reason.startswith("5.")


@needs_corpus
def test_a_report_in_a_broken_mime_structure_is_read_from_its_fields():
    """A multipart/report whose boundary is broken still says Action: failed, 5.4.6."""
    reason = hard_failure(corpus_mail("cpython-email/msg_25.eml"))
    assert reason is not None and reason.startswith("5.4.6")


@needs_corpus
@pytest.mark.parametrize(
    "name",
    [
        "flanker/bounce/no-mx.eml",
        "ruby-mail/multipart_report_emails/report_422.eml",
        "deltachat/dsn_relayed.eml",
        "enmime/dsn__testdata__delayed_dsn.eml",
    ],
)
def test_delays_and_relays_are_not_permanent(name):
    """A delayed or relayed report changes nothing: the address still works."""
    assert hard_failure(corpus_mail(name)) is None, name


@needs_corpus
@pytest.mark.slow
def test_most_bounce_reports_of_the_corpus_are_recognised():
    """Of the corpus's 66 bounce mails: 28 by RFC 3464 alone before issue 13, 51 now
    (the others are delays, relays, or carry no recipient a reader could name)."""
    with open(CORPUS / "MANIFEST.tsv", encoding="utf-8") as manifest:
        rows = [
            r for r in csv.DictReader(manifest, delimiter="\t") if r["category"] == "bounce-dsn"
        ]
    found = sum(1 for r in rows if hard_failure(corpus_mail(r["path"])))
    assert len(rows) == 66 and found >= 51, found
