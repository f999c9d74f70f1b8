"""``helpdesk ingest``: one mail from an MTA's pipe transport, in its own transaction.

The same path as :meth:`gateway.app.gateway.Gateway.ingest_now`, without building a
Gateway: a process per mail must not import the listeners, the page and the
scheduler it will never start (issue 14, item 15: the pipe cost 7× LMTP per mail).
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from gateway.app.wiring import Wiring
from gateway.intake import ingest, prepare
from gateway.intake.quarantine import shunt
from gateway.outcome import DATABASE_AWAY, Delivery, Outcome
from gateway.store import db

log = logging.getLogger("gateway")


def ingest_once(wiring: Wiring, delivery: Delivery) -> Outcome:
    """Parse, decide and commit one mail; the database away is DEFERRED, a bug shunts."""
    prep = prepare(delivery)
    now = wiring.clock()
    try:
        with db.transaction(wiring.sessions) as session:
            return ingest(session, prep, wiring.intake, now)
    except SQLAlchemyError as exc:
        if not isinstance(exc, IntegrityError | DataError):
            log.warning("could not store: %s", exc.__class__.__name__)
            return DATABASE_AWAY
        log.error("the database refused this mail's rows (%s); kept in quarantine", exc)
        with db.transaction(wiring.sessions) as session:
            return shunt(session, delivery, exc, now)
    except Exception as exc:  # a bug in a step: keep the bytes, answer "stored"
        log.exception("intake failed; kept in quarantine")
        with db.transaction(wiring.sessions) as session:
            return shunt(session, delivery, exc, now)
