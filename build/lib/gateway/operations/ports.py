"""What the verbs need from layers above them, as protocols (dependency inversion).

Changing a ticket writes its notifications in the same transaction
(guarantee 4), but who is told what is decided by ``notify.enqueue``, which
sits above this layer (DESIGN §2). ``app`` hands the verbs a
:class:`~gateway.notify.enqueue.Notices`, which has exactly these methods; a
verb given ``None`` changes tickets and tells nobody (dry runs, imports).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from gateway.desk.model import Decision


class Tell(Protocol):
    def decision(
        self,
        session: Session,
        number: int,
        decision: Decision,
        now: datetime,
        *,
        trigger_id: str | None = None,
        extra: dict | None = None,
    ) -> list[int]: ...

    def one(
        self,
        session: Session,
        number: int,
        kind: str,
        now: datetime,
        *,
        trigger_id: str | None = None,
        extra: dict | None = None,
        to_address: str | None = None,
        limited: bool = True,
    ) -> int | None: ...
