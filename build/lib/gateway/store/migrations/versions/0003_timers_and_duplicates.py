"""the 30-day rules' marks and the duplicate catcher's fingerprints (issue 5)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("request_digest", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("request_norm", sa.Text(), nullable=True))
        batch.add_column(sa.Column("reminded_for", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("escalated_at", sa.DateTime(), nullable=True))
        batch.add_column(
            sa.Column("reopenable", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(sa.Column("duplicate_of", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_tickets_duplicate_of", "tickets", ["duplicate_of"], ["id"])
        batch.create_index("ix_tickets_customer_digest", ["customer_id", "request_digest"])
        batch.create_index("ix_tickets_customer_id", ["customer_id", "id"])
        batch.create_index("ix_tickets_reopenable_closed", ["reopenable", "closed_at"])
        batch.create_index("ix_tickets_created", ["created_at"])
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("digest", sa.String(length=64), nullable=True))
        batch.create_index("ix_messages_ticket_digest", ["ticket_id", "digest"])


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_ticket_digest")
        batch.drop_column("digest")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_created")
        batch.drop_index("ix_tickets_reopenable_closed")
        batch.drop_index("ix_tickets_customer_id")
        batch.drop_index("ix_tickets_customer_digest")
        batch.drop_constraint("fk_tickets_duplicate_of", type_="foreignkey")
        for column in (
            "duplicate_of",
            "reopenable",
            "escalated_at",
            "reminded_for",
            "request_norm",
            "request_digest",
        ):
            batch.drop_column(column)
