"""Trust and abuse over real SMTP sessions (issue 14, items 8-10)."""

from __future__ import annotations

from sqlalchemy import func, select

from gateway.store.tables import RawMail
from tests.helpers import mail, send, show


def _raw_count(gw) -> int:
    with gw.gateway.sessions() as s:
        return s.scalar(select(func.count()).select_from(RawMail))


def test_another_senders_mail_with_a_taken_message_id_is_stored_and_flagged(gateway):
    """Issue 14.8: the first sender of a Message-ID cannot pre-empt someone else's mail."""
    ivan = mail(msgid="<same@example.ru>")
    petr = mail(
        subject="Счёт не пришёл",
        body="Добрый день, не пришёл счёт за ноябрь.",
        sender="petr@example.org",
        msgid="<same@example.ru>",
    )
    assert send(gateway, ivan)[0] == 250
    code, text = send(gateway, petr, sender="petr@example.org")
    assert (code, text.split(":")[0]) == (250, "2.0.0 Stored"), text
    (message,) = show(gateway, 2)["messages"]
    assert message["text"].startswith("Добрый день") and "reused_id" in message["flags"]
    assert show(gateway, 1)["messages"][0]["flags"] == []
    for again, sender in ((petr, "petr@example.org"), (ivan, "ivan@example.ru")):
        code, text = send(gateway, again, sender=sender)  # retries: still one effect each
        assert (code, text.split(":")[0]) == (250, "2.0.0 Already stored, nothing changed")
    assert _raw_count(gateway) == 2
