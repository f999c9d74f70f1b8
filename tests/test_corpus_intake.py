"""Every real-world mail of the shared corpus goes through intake without an exception."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from gateway.app.gateway import Gateway
from gateway.clock import FrozenClock
from gateway.outcome import Delivery, Origin, OutcomeKind, Trust
from gateway.store.tables import Message, RawMail
from tests.conftest import CORPUS


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not on this machine")
def test_every_corpus_mail_ends_as_a_message_or_in_quarantine(settings, caplog):
    """Each of the corpus's mails is stored: as a ticket message, kept, or quarantined."""
    if not settings.db_url.startswith("sqlite"):
        pytest.skip("the corpus run is about parsing; once, on SQLite, is enough")
    gw = Gateway(replace(settings), FrozenClock())
    gw.init_database()
    files = sorted(CORPUS.rglob("*.eml"))
    assert len(files) > 500
    kinds: dict[OutcomeKind, int] = {}
    for path in files:
        outcome = gw.ingest_now(
            Delivery(
                None, ("support@example.com",), path.read_bytes(), Origin.IMPORT, Trust.ARCHIVE
            )
        )
        assert outcome.accepted, f"{path}: {outcome}"
        kinds[outcome.kind] = kinds.get(outcome.kind, 0) + 1
    # No mail may have been shunted by an unexpected exception in a step.
    with gw.sessions() as s:
        shunted = s.scalars(
            select(RawMail.error).where(RawMail.error.like("intake failed:%"))
        ).all()
        messages = s.scalar(select(func.count()).select_from(Message))
        raws = s.scalar(select(func.count()).select_from(RawMail))
    gw.close()
    assert shunted == [], shunted[:5]
    assert messages > len(files) // 2
    assert raws == len(files) - kinds.get(OutcomeKind.DUPLICATE, 0)
