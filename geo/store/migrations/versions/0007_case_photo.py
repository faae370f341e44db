"""Photos attached to cases (JPEG/PNG, EXIF stripped before they are stored).

Kept in PostgreSQL so a backup (pg_dump) carries every photo with its case.

Revision ID: 0007_case_photo
Revises: 0006_drop_street_index
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_case_photo"
down_revision = "0006_drop_street_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_photo",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("case_id", sa.BigInteger, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("uploaded_by", sa.Integer, sa.ForeignKey("app_user.id")),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.CheckConstraint("content_type IN ('image/jpeg', 'image/png')", name="ck_case_photo_type"),
    )
    op.create_index("ix_case_photo_case", "case_photo", ["case_id"])


def downgrade() -> None:
    op.drop_table("case_photo")
