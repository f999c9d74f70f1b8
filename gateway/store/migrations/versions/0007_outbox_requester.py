"""who asked for a mail a person asks for (sign-in link, address confirmation): issue 13

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-07 14:30:00

Mail a person asks for is rate-limited per requester and per address
separately, so nobody can spend someone else's budget; the loop limit no
longer counts it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("requester", sa.String(length=320), nullable=True))
    op.create_index("ix_outbox_requester_created", "outbox", ["requester", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_requester_created", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("requester")
