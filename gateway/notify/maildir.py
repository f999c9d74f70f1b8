"""No smarthost: each notification is a file in a local Maildir that a person can open.

The embedded default (``make run``): mail a person can read with any mail
client, or ``ls var/outgoing/new``, instead of mail lost to a missing relay.
"""

from __future__ import annotations

import asyncio
import mailbox
from pathlib import Path


class MaildirSender:
    """No smarthost: each mail is a file under ``new/`` that a person can open."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)  # Maildir makes only the last level
        self._box = mailbox.Maildir(path, create=True)

    async def send(self, envelope_from: str, to: str, data: bytes) -> None:
        envelope = f"Return-Path: <{envelope_from}>\r\nDelivered-To: {to}\r\n".encode()
        await asyncio.to_thread(self._box.add, envelope + data)

    async def send_many(self, mails: list[tuple[str, str, bytes]]) -> list[Exception | None]:
        for mail in mails:
            await self.send(*mail)
        return [None] * len(mails)

    async def close(self) -> None:
        return None
