"""The 接诉即办 chain: a pending extension request (延期) and the current round's callback (回访)
on the case, so "one callback per round" and "reopen only after an unsolved or unsatisfied
callback" are checked in the same compare-and-set as the status.

Existing cases get the callback of their current round from their events (the last callback with
no reopen after it).

Revision ID: 0014_chain
Revises: 0013_topics
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0014_chain"
down_revision = "0013_topics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("extension_due", sa.DateTime(timezone=True)))
    op.add_column("cases", sa.Column("callback", JSONB))
    op.execute("""
        UPDATE cases c SET callback = last.details
        FROM (SELECT DISTINCT ON (case_id) case_id, action, details FROM case_event
              WHERE action IN ('callback', 'reopen') ORDER BY case_id, id DESC) last
        WHERE last.case_id = c.id AND last.action = 'callback'""")


def downgrade() -> None:
    op.drop_column("cases", "callback")
    op.drop_column("cases", "extension_due")
