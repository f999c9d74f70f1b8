"""Every admin and operator verb, shared by the terminal, the page and operators' mail.

``tickets`` holds the verbs that change a ticket (reply, take, status, close,
admin-close, note, assign, merge, a held mail's fate, its notification
settings), each in the caller's transaction, so intake can apply an
operator's mailed commands inside the mail's own transaction. ``desk`` wraps
each verb in a transaction of its own for the CLI and the support page, which
call it directly. A verb that cannot be done raises :class:`Refused` with a
sentence that says what to do instead; the CLI prints it, the page shows it,
and a mailed command becomes the operator's ``command_error`` mail.
"""

from __future__ import annotations


class Refused(Exception):
    """The verb cannot be done; the message says why and what to do instead."""
