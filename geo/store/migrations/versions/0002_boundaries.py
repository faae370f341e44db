"""Boundary hierarchy: versions (generations), polygons, subdivided pieces.

Revision ID: 0002_boundaries
Revises: 0001_postgis
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002_boundaries"
down_revision = "0001_postgis"
branch_labels = None
depends_on = None

LEVEL_CHECK = "level IN ('district', 'street', 'community', 'grid')"


def upgrade() -> None:
    op.create_table(
        "boundary_version",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("valid_to", sa.DateTime(timezone=True)),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_crs", sa.Text, nullable=False),
        sa.Column("feature_count", sa.Integer, nullable=False),
        sa.Column("report", JSONB, nullable=False, server_default="{}"),
        sa.CheckConstraint(LEVEL_CHECK, name="ck_boundary_version_level"),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="ck_boundary_version_range"),
    )
    op.create_index(
        "uq_boundary_version_current", "boundary_version", ["level"], unique=True,
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_table(
        "boundary",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("boundary_version.id", ondelete="CASCADE"), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("parent_code", sa.String(32)),
        sa.Column("area_m2", sa.Float, nullable=False),
        sa.Column("geom", Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False),
        sa.UniqueConstraint("version_id", "code", name="uq_boundary_version_code"),
        sa.CheckConstraint(LEVEL_CHECK, name="ck_boundary_level"),
        sa.CheckConstraint("code ~ '^[0-9]+$'", name="ck_boundary_code_digits"),
    )
    op.create_index("ix_boundary_level_code", "boundary", ["level", "code"])
    op.create_index("ix_boundary_geom", "boundary", ["geom"], postgresql_using="gist")
    op.create_table(
        "boundary_piece",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("boundary_id", sa.BigInteger, sa.ForeignKey("boundary.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("boundary_version.id", ondelete="CASCADE"), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("geom", Geometry("POLYGON", srid=4326, spatial_index=False), nullable=False),
    )
    op.create_index("ix_boundary_piece_geom", "boundary_piece", ["geom"], postgresql_using="gist")
    op.create_index("ix_boundary_piece_version", "boundary_piece", ["version_id"])


def downgrade() -> None:
    op.drop_table("boundary_piece")
    op.drop_table("boundary")
    op.drop_table("boundary_version")
