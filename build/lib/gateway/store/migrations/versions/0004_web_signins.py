"""used one-time sign-in links of the support page (issue 7)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_signins",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("nonce"),
    )
    op.create_index("ix_web_signins_used_at", "web_signins", ["used_at"])


def downgrade() -> None:
    op.drop_index("ix_web_signins_used_at", table_name="web_signins")
    op.drop_table("web_signins")
