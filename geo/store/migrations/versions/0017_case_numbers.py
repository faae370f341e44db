"""Case numbers never truncate: the per-district-day counter is a bigint and case_no holds a
district code (≤ 32), the date and a sequence of up to 19 digits (geo.domain.cases.case_number
widens the sequence past 6 digits instead of cutting it). Existing numbers stay as they are.

Revision ID: 0017_case_numbers
Revises: 0016_jobs
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_case_numbers"
down_revision = "0016_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("case_counter", "last", type_=sa.BigInteger, existing_nullable=False)
    # varchar(48) → varchar(64) is binary compatible: no rewrite of cases, no index rebuild.
    op.alter_column("cases", "case_no", type_=sa.String(64), existing_nullable=False)


def downgrade() -> None:
    op.alter_column("cases", "case_no", type_=sa.String(48), existing_nullable=False)
    op.alter_column("case_counter", "last", type_=sa.Integer, existing_nullable=False)
