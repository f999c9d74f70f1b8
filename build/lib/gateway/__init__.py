"""Helpdesk Gateway: an e-mail-driven helpdesk.

See ``DESIGN.md`` in the shared folder for the statuses, the mail flow and the
guarantees; the README for running it.
"""

__version__ = "0.1.0"
