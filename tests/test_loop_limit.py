"""The loop limit guards against loops only; mail a person asks for has limits of its own
(issue 13, guarantee 5), over real SMTP sessions and the support page's real socket.

The loop limit counts automatic answers to incoming mail (``auto-replied``), per
address, only rows already due. A sign-in link or an address confirmation is
limited per address and per requester, apart, and the page says when it did not
send one. A customer's ordinary conversation never runs into either.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from gateway.store import outbox
from gateway.store.tables import Outbox
from gateway.testing import running_gateway
from tests.test_operators_mail import ANSWER, CUSTOMER, SUBJECT, Desk, kinds, op_mail
from tests.web.conftest import Web, web_settings

NOT_SENT = "не отправлена"
ON_ITS_WAY = "отправлена ссылка для входа"


@pytest.fixture
def both(settings, clock, smarthost) -> Iterator[tuple[Desk, Web]]:
    """A gateway with submission, a recording smarthost and the support page."""
    with running_gateway(
        web_settings(settings),
        clock,
        smarthost=smarthost.url,
        smarthost_starttls="no",
        notify_backoff_seconds=1,
        submission_listen="smtp://127.0.0.1:0",
    ) as gw:
        web = Web(gw, clock)
        try:
            yield Desk(gw, smarthost), web
        finally:
            web.close()


def ask_link(web: Web, address: str, client=None) -> str:
    """The sign-in page asked for a link to ``address``; the page's answer."""
    client = client or web.client()
    r = web.post(client, "/signin", {"email": address}, "/signin")
    assert r.status_code == 200, r.text
    return r.text


def test_a_long_conversation_suppresses_nothing_and_the_link_still_goes(both, clock):
    """Nine replies each way: nothing suppressed; then the sign-in link is sent, and says so."""
    desk, web = both
    desk.gw.gateway.wiring.desk.add_customer(CUSTOMER, "Иван Петров", verified=True)
    number = desk.customer()
    for i in range(9):
        clock.advance(minutes=5)
        desk.operator(op_mail(f"{ANSWER} ({i})", number=number))
        clock.advance(minutes=5)
        desk.customer(f"Всё ещё 502, попытка {i}.", subject=f"Re: [#{number}] {SUBJECT}")
    sent = desk.sent()
    assert [s for s in sent if s.state != "sent"] == []
    assert ON_ITS_WAY in ask_link(web, CUSTOMER)
    [link] = [s for s in desk.sent() if s.kind == "signin_link"]
    assert link.state == "sent"


def test_links_asked_for_someone_else_do_not_silence_them(both):
    """Ten links asked for Ivan's address: his ticket mail still goes; the page says when
    a link was not sent."""
    desk, web = both
    desk.gw.gateway.wiring.desk.add_customer(CUSTOMER, "Иван Петров", verified=True)
    attacker = web.client()
    pages = [ask_link(web, CUSTOMER, attacker) for _ in range(10)]
    assert all(ON_ITS_WAY in p for p in pages[:5])
    assert all(NOT_SENT in p and ON_ITS_WAY not in p for p in pages[5:])
    desk.customer()
    sent = desk.sent()
    assert kinds(sent, to=CUSTOMER).count("signin_link") == 10
    states = {s.kind: s.state for s in sent if s.to == CUSTOMER and s.kind != "signin_link"}
    assert states == {"created": "sent"}
    held = [s for s in sent if s.kind == "signin_link" and s.state == "suppressed"]
    assert len(held) == 5


def test_one_requester_is_limited_apart_from_the_address(both):
    """One client asking links for six customers is stopped; another client is not."""
    desk, web = both
    addresses = [f"c{i}@example.ru" for i in range(6)]
    for a in addresses:
        desk.gw.gateway.wiring.desk.add_customer(a, "", verified=True)
    greedy = web.client()
    pages = [ask_link(web, a, greedy) for a in addresses]
    assert all(ON_ITS_WAY in p for p in pages[:5]) and NOT_SENT in pages[5]
    # Someone else (another peer address) may still ask for it.
    other = httpx.Client(
        base_url=web.base, transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=30
    )
    with other:
        assert ON_ITS_WAY in ask_link(web, addresses[5], other)


def test_rows_dated_in_the_future_do_not_count(both, clock):
    """A what-if sweep's rows dated later are no mail sent yet: they spend no budget."""
    desk, _ = both
    later = clock() + timedelta(days=31)
    with desk.gw.gateway.sessions() as session, session.begin():
        outbox.enqueue_many(
            session,
            [
                outbox.Letter(None, "created", CUSTOMER, "ru", {}, "auto-replied", f"<f{i}@x>")
                for i in range(12)
            ],
            later,
        )
        session.execute(
            Outbox.__table__.update().values(state="sent").where(Outbox.created_at == later)
        )
    desk._last_row = 12
    desk.customer()
    [created] = [s for s in desk.sent() if s.to == CUSTOMER]
    assert (created.kind, created.state) == ("created", "sent")


def test_the_loop_limit_still_stops_answers_to_a_flood(both):
    """Automatic answers to one address beyond the limit are still held (guarantee 5)."""
    desk, _ = both
    for n in range(12):
        desk.customer(f"Проблема номер {n}: {'x' * n}", subject=f"Вопрос {n} {'y' * n}")
    with desk.gw.gateway.sessions() as session:
        rows = list(session.scalars(select(Outbox).where(Outbox.to_address == CUSTOMER)))
    states = [r.state for r in rows]
    assert states.count("suppressed") == 2, states
    assert all(re.match("loop limit", r.last_error or "") for r in rows if r.state == "suppressed")
