"""The 30-day rules, reminders, the unanswered watch and the dedup sweep: ``jobs`` does
each once, as of a given moment; ``scheduler`` runs them on intervals inside
``helpdesk serve`` (APScheduler 3), and ``helpdesk sweep`` runs them once."""
