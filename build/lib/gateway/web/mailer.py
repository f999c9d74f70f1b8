"""A customer's form as the mail they would have written (issue 7: "exactly as if mailed").

A new ticket, a reply, "close" and "reopen" on the page become one RFC 5322
message each and go through the same intake pipeline as SMTP (``Delivery``
with source ``web``): the same parsing, threading, duplicate check, state
machine, audit rows and notifications, in one transaction, and nothing here
to keep in step with it. A reply is addressed to the ticket's signed reply
address, so it threads into that ticket and no other whatever its subject.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid

from gateway.mail import reply_address
from gateway.mail.subject import format_token
from gateway.outcome import Delivery, Origin, Trust, Wish
from gateway.web.backend import WebConfig

CLOSE_COMMAND = "#close"
CLOSED_ON_PAGE = {
    "ru": "Закрыто клиентом на странице поддержки {when:%Y-%m-%d %H:%M:%S} UTC.",
    "en": "Closed by the customer on the support page {when:%Y-%m-%d %H:%M:%S} UTC.",
}


def _message(
    config: WebConfig, sender: str, to: str, subject: str, text: str, now: datetime
) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = formataddr(("", sender))
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(idstring="webform", domain=config.domain)
    msg["X-Helpdesk-Source"] = "support page"
    msg.set_content(text.replace("\r\n", "\n"), cte="8bit" if text.isascii() else "base64")
    return msg.as_bytes()


def new_request(
    config: WebConfig,
    sender: str,
    subject: str,
    text: str,
    now: datetime,
    *,
    distinct: bool = False,
    notify: bool = True,
) -> Delivery:
    """The "New ticket" form: a mail to the support address (``distinct``: the customer saw
    the open ticket it resembles and chose a new one anyway; ``notify`` False: no e-mail)."""
    data = _message(config, sender, config.support, subject, text, now)
    wishes = {Wish.NEW_TICKET} if distinct else set()
    wishes |= set() if notify else {Wish.NO_EMAIL}
    return _from_page(sender, config.support, data, frozenset(wishes))


def to_ticket(
    config: WebConfig,
    sender: str,
    number: int,
    subject: str,
    text: str,
    now: datetime,
    *,
    close: bool = False,
    locale: str = "ru",
) -> Delivery:
    """A reply in ticket ``number`` (``close``: with the customer's ``#close`` on line 1)."""
    to = reply_address.make(config.support, config.secret, "t", number)
    if close:
        # The line with the moment keeps a second close (after a reopen) from reading as
        # "content already in this ticket", which the machine collapses before #close.
        said = CLOSED_ON_PAGE.get(locale, CLOSED_ON_PAGE["en"]).format(when=now)
        text = f"{CLOSE_COMMAND}\n\n{text.strip()}\n\n{said}".replace("\n\n\n\n", "\n\n")
    token = format_token(number, config.token_format)
    data = _message(config, sender, to, f"Re: {token} {subject}", text, now)
    return _from_page(sender, to, data)


def _from_page(
    sender: str, to: str, data: bytes, wishes: frozenset[Wish] = frozenset()
) -> Delivery:
    """The page vouches for its signed-in customer: the mail's From is theirs."""
    return Delivery(sender, (to,), data, Origin.WEB, Trust.CUSTOMER_SESSION, sender, wishes)
