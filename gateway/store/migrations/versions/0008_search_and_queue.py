"""the support page at 100,000 tickets (issue 15): search index, queue indexes

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-07 14:30:00

SQLite gets a contentless FTS5 table of stemmed words (store.search), filled
here from the messages already stored; PostgreSQL a stored generated tsvector
column (russian and english) with a GIN index, which keeps itself. Both get the indexes the
queue pages by (updated_at) and the header counts (strangers' held mail).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store import search

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    op.create_index("ix_tickets_updated", "tickets", ["updated_at", "id"])
    op.create_index("ix_tickets_duplicate_of", "tickets", ["duplicate_of"])
    strangers = sa.text("author_kind = 'stranger'")
    op.create_index(
        "ix_messages_strangers",
        "messages",
        ["id"],
        sqlite_where=strangers,
        postgresql_where=strangers,
    )
    if bind.dialect.name == "postgresql":
        op.execute(
            f"ALTER TABLE messages ADD COLUMN IF NOT EXISTS {search.PG_COLUMN} tsvector"
            f" GENERATED ALWAYS AS ({search.PG_EXPRESSION}) STORED"
        )
        op.execute(
            f"CREATE INDEX IF NOT EXISTS {search.PG_INDEX} ON messages"
            f" USING gin ({search.PG_COLUMN})"
        )
    elif bind.dialect.name == "sqlite":
        op.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {search.SQLITE_TABLE} USING fts5("
            "body, content='', tokenize='unicode61 remove_diacritics 2')"
        )
        session = sa.orm.Session(bind=bind)
        search.catch_up(session)
        session.flush()


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {search.PG_INDEX}")
        op.execute(f"ALTER TABLE messages DROP COLUMN IF EXISTS {search.PG_COLUMN}")
    elif bind.dialect.name == "sqlite":
        op.execute(f"DROP TABLE IF EXISTS {search.SQLITE_TABLE}")
    op.drop_index("ix_messages_strangers", table_name="messages")
    op.drop_index("ix_tickets_duplicate_of", table_name="tickets")
    op.drop_index("ix_tickets_updated", table_name="tickets")
