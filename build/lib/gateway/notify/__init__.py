"""Outgoing notifications: templates, FAQ matching, the outbox dispatcher."""
