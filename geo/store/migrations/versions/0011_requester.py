"""The requester (诉求人) on cases: name, phone, e-mail (personal data, see geo.domain.permissions) and
the request type (诉求类型), which case_fact also carries so measures can be split by it.

Revision ID: 0011_requester
Revises: 0010_roles
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_requester"
down_revision = "0010_roles"
branch_labels = None
depends_on = None

#: Frozen copy of the codes of geo.domain.requesters.REQUEST_TYPES at this revision
#: (tests/test_one_home.py compares).
REQUEST_TYPES = ("consult", "help", "complaint", "report", "suggestion")


def upgrade() -> None:
    op.add_column("cases", sa.Column("requester_name", sa.String(64)))
    op.add_column("cases", sa.Column("requester_phone", sa.String(16)))
    op.add_column("cases", sa.Column("requester_email", sa.String(254)))
    op.add_column("cases", sa.Column("request_type", sa.String(16)))
    op.create_check_constraint("ck_cases_request_type", "cases",
                               "request_type IN (" + ", ".join(f"'{t}'" for t in REQUEST_TYPES) + ")")
    # Every case so far has no request type, so case_fact needs no backfill.
    op.add_column("case_fact", sa.Column("request_type", sa.String(16)))


def downgrade() -> None:
    op.drop_column("case_fact", "request_type")
    op.drop_constraint("ck_cases_request_type", "cases", type_="check")
    for column in ("request_type", "requester_email", "requester_phone", "requester_name"):
        op.drop_column("cases", column)
