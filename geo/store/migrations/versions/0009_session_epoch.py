"""Session epoch per user: signing out (or an admin ending sessions) invalidates every session
cookie issued before, although sessions live in signed cookies the server does not keep.

Revision ID: 0009_session_epoch
Revises: 0008_case_fact
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_session_epoch"
down_revision = "0008_case_fact"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("app_user", sa.Column("session_epoch", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("app_user", "session_epoch")
