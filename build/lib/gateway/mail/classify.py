"""Is this mail from a person, or automatic? (RFC 3834, RFC 3464, RFC 2369.)

Automatic mail is stored but never answered automatically and never moves a
ticket (guarantee 5): an out-of-office reply must not reopen a ticket or keep
one waiting for the customer alive. The checks are the ones the gateway's own
outgoing mail must pass too — what we stamp (``Auto-Submitted``, our
Message-ID domain) is what we look for here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from gateway.mail.compose import OWN_ID_MARK
from gateway.mail.parsed import ParsedMail


class MailKind(StrEnum):
    HUMAN = "human"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    BULK = "bulk"
    LOOP = "loop"


@dataclass(frozen=True, slots=True)
class Classification:
    kind: MailKind
    reason: str

    @property
    def automatic(self) -> bool:
        return self.kind is not MailKind.HUMAN


_BOUNCE_SENDERS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|bounces?)@", re.IGNORECASE)
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:auto(?:matic)?[ -]?(?:reply|response|antwort)|автоответ|автоматический ответ|"
    r"undeliverable|undelivered mail|delivery status notification|"
    r"returned mail|mail delivery failed|недоставленное сообщение)"
    # Words a customer may also start a request with ("В отпуске не работает VPN")
    # count only in an auto-reply's shape: "Out of office: …", "В отпуске до 10.12".
    r"|^\s*(?:out of (?:the )?office(?: auto ?reply)?|abwesenheit(?:snotiz)?|нет на месте|"
    r"в отпуске|отпуск)\s*(?:[:(]|$|до\s+\d|until\s+\d)",
    re.IGNORECASE,
)


def is_own_message_id(msgid: str, domains: frozenset[str]) -> bool:
    """One of the Message-IDs we stamp (:func:`gateway.mail.compose.own_message_id`).

    The domain alone is not enough: an operator or a customer on the company's
    own domain writes Message-IDs ending in it too, and their mail is no loop.
    """
    local, _, domain = msgid.strip("<>").rpartition("@")
    return domain.lower() in domains and local.endswith("." + OWN_ID_MARK)


def classify(
    mail: ParsedMail, envelope_sender: str | None, own_id_domains: frozenset[str] = frozenset()
) -> Classification:
    """The first rule that matches wins; its reason goes into the decision trace."""
    h = mail.header
    content_type = (h("content-type") or "").lower()
    if "multipart/report" in content_type and "delivery-status" in content_type:
        return Classification(MailKind.BOUNCE, "bounce: a delivery status notification (RFC 3464)")
    if envelope_sender is not None and envelope_sender.strip() in ("", "<>"):
        return Classification(MailKind.BOUNCE, "automatic: null envelope sender <>")
    sender = mail.from_.key if mail.from_ else ""
    if _BOUNCE_SENDERS.match(sender) or _BOUNCE_SENDERS.match((envelope_sender or "").lower()):
        return Classification(MailKind.BOUNCE, f"bounce: sent by {sender or envelope_sender}")
    if own_id_domains and mail.message_id and is_own_message_id(mail.message_id, own_id_domains):
        return Classification(MailKind.LOOP, f"loop: our own Message-ID {mail.message_id}")
    auto = (h("auto-submitted") or "").strip().lower()
    if auto and auto != "no":
        return Classification(MailKind.AUTO_REPLY, f"auto: Auto-Submitted: {auto} (RFC 3834)")
    for name in ("x-autoreply", "x-autorespond", "x-auto-response-suppress"):
        if h(name) is not None:
            return Classification(MailKind.AUTO_REPLY, f"auto: {name} header present")
    precedence = (h("precedence") or "").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return Classification(MailKind.BULK, f"bulk: Precedence: {precedence}")
    if h("list-id") is not None or h("list-unsubscribe") is not None:
        return Classification(MailKind.BULK, "bulk: mailing list headers (RFC 2369/2919)")
    if _AUTO_SUBJECT.match(mail.subject or ""):
        return Classification(MailKind.AUTO_REPLY, f"auto: subject {mail.subject.strip()!r}")
    return Classification(MailKind.HUMAN, "human mail")
