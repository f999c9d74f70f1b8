"""Persistence: SQLAlchemy 2 models, queries, and the group-commit writer.

Imports ``desk`` for its value types; knows nothing of SMTP or mail parsing.
"""
