"""``helpdesk import``: an old support mailbox read in date order (``archive``) and
replayed through intake with the 30-day rules (``replay``, ``clockwork``), counted
in a report (``report``)."""
