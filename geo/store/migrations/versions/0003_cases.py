"""Reference data (categories, departments with jurisdictions, duty list) and cases.

Revision ID: 0003_cases
Revises: 0002_boundaries
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0003_cases"
down_revision = "0002_boundaries"
branch_labels = None
depends_on = None

URGENCY_CHECK = "urgency IN ('emergency', 'utility', 'general', 'complex')"


def upgrade() -> None:
    op.create_table(
        "category",
        sa.Column("code", sa.String(4), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("major_code", sa.String(2), nullable=False),
        sa.Column("major_name", sa.Text, nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False, server_default="general"),
        sa.Column("resolve_limit_hours", sa.Float),
        sa.Column("clock", sa.String(16), nullable=False, server_default="natural"),
        sa.CheckConstraint("code ~ '^[0-9]{4}$' AND left(code, 2) = major_code", name="ck_category_code"),
        sa.CheckConstraint(URGENCY_CHECK, name="ck_category_urgency"),
        sa.CheckConstraint("clock IN ('natural', 'working')", name="ck_category_clock"),
    )
    op.create_table(
        "department",
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("parent_code", sa.String(32), sa.ForeignKey("department.code", ondelete="CASCADE")),
        sa.Column("jurisdiction", Geometry("MULTIPOLYGON", srid=4326, spatial_index=False)),
    )
    op.create_index("ix_department_jurisdiction", "department", ["jurisdiction"], postgresql_using="gist")
    op.create_table(
        "duty_rule",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("category_code", sa.String(4), sa.ForeignKey("category.code"), nullable=False),
        sa.Column("scope_kind", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(32), nullable=False, server_default=""),
        sa.Column("lead_department", sa.String(32), sa.ForeignKey("department.code"), nullable=False),
        sa.Column("co_departments", ARRAY(sa.String(32)), nullable=False, server_default="{}"),
        sa.Column("resolve_limit_hours", sa.Float),
        sa.CheckConstraint("scope_kind IN ('citywide', 'boundary', 'jurisdiction')", name="ck_duty_rule_scope_kind"),
        sa.UniqueConstraint("category_code", "scope_kind", "scope", name="uq_duty_rule_scope"),
    )
    op.create_table(
        "case_counter",
        sa.Column("district_code", sa.String(32), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("last", sa.Integer, nullable=False),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("case_no", sa.String(48), nullable=False, unique=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(128)),
        sa.Column("category_code", sa.String(4), sa.ForeignKey("category.code"), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("orig_x", sa.Float, nullable=False),
        sa.Column("orig_y", sa.Float, nullable=False),
        sa.Column("orig_crs", sa.String(32), nullable=False),
        sa.Column("grid_code", sa.String(32), nullable=False),
        sa.Column("community_code", sa.String(32)),
        sa.Column("street_code", sa.String(32)),
        sa.Column("district_code", sa.String(32)),
        sa.Column("boundary_version_id", sa.Integer, sa.ForeignKey("boundary_version.id"), nullable=False),
        sa.Column("lead_department", sa.String(32)),
        sa.Column("co_departments", ARRAY(sa.String(32)), nullable=False, server_default="{}"),
        sa.Column("routing_rule", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="received"),
        sa.Column("dispatch_due", sa.DateTime(timezone=True)),
        sa.Column("respond_due", sa.DateTime(timezone=True)),
        sa.Column("resolve_due", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("source", "external_id", name="uq_cases_source_external_id"),
        sa.CheckConstraint(URGENCY_CHECK, name="ck_cases_urgency"),
    )
    op.create_index("ix_cases_geom", "cases", ["geom"], postgresql_using="gist")
    op.create_index("ix_cases_status", "cases", ["status"])
    op.create_index("ix_cases_category", "cases", ["category_code"])
    op.create_index("ix_cases_reported_at", "cases", ["reported_at"])
    for column in ("grid_code", "street_code"):
        op.create_index(f"ix_cases_{column}", "cases", [column], postgresql_ops={column: "text_pattern_ops"})


def downgrade() -> None:
    op.drop_table("cases")
    op.drop_table("case_counter")
    op.drop_table("duty_rule")
    op.drop_table("department")
    op.drop_table("category")
