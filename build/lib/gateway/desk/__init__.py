"""The helpdesk domain: statuses, the state machine, threading and duplicates.

Pure: standard library only. No database, no sockets, no clock of its own —
every rule takes ``now`` from its caller (guarantee 7).
"""
