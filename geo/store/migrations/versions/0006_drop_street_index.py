"""Drop ix_cases_street_code: every area filter uses the grid code prefix (ix_cases_grid_code), and
each unused index costs every insert (measured in bench/README.md).

Revision ID: 0006_drop_street_index
Revises: 0005_whistles
"""

from alembic import op

revision = "0006_drop_street_index"
down_revision = "0005_whistles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_cases_street_code", table_name="cases")


def downgrade() -> None:
    op.create_index("ix_cases_street_code", "cases", ["street_code"],
                    postgresql_ops={"street_code": "text_pattern_ops"})
