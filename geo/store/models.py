"""Tables, as SQLAlchemy models. Schema changes go through Alembic revisions, never create_all."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "Boundary", "BoundaryPiece", "BoundaryVersion"]

LEVEL_CHECK = "level IN ('district', 'street', 'community', 'grid')"


class Base(DeclarativeBase):
    pass


class BoundaryVersion(Base):
    """One load of one level (a generation): current while ``valid_to`` is NULL."""

    __tablename__ = "boundary_version"
    __table_args__ = (
        CheckConstraint(LEVEL_CHECK, name="ck_boundary_version_level"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="ck_boundary_version_range"),
        Index("uq_boundary_version_current", "level", unique=True, postgresql_where="valid_to IS NULL"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(Text, nullable=False)
    source_crs: Mapped[str] = mapped_column(Text, nullable=False)
    feature_count: Mapped[int] = mapped_column(Integer, nullable=False)
    report: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")


class Boundary(Base):
    """A district, street, community or grid polygon of one version."""

    __tablename__ = "boundary"
    __table_args__ = (
        UniqueConstraint("version_id", "code", name="uq_boundary_version_code"),
        CheckConstraint(LEVEL_CHECK, name="ck_boundary_level"),
        CheckConstraint("code ~ '^[0-9]+$'", name="ck_boundary_code_digits"),
        Index("ix_boundary_level_code", "level", "code"),
        Index("ix_boundary_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("boundary_version.id", ondelete="CASCADE"), nullable=False)
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    parent_code: Mapped[str | None] = mapped_column(String(32))
    area_m2: Mapped[float] = mapped_column(Float, nullable=False)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False)


class BoundaryPiece(Base):
    """Boundary polygons cut by ST_Subdivide (≤ 256 vertices) for fast point lookups."""

    __tablename__ = "boundary_piece"
    __table_args__ = (
        Index("ix_boundary_piece_geom", "geom", postgresql_using="gist"),
        Index("ix_boundary_piece_version", "version_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    boundary_id: Mapped[int] = mapped_column(ForeignKey("boundary.id", ondelete="CASCADE"), nullable=False)
    version_id: Mapped[int] = mapped_column(ForeignKey("boundary_version.id", ondelete="CASCADE"), nullable=False)
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    geom = mapped_column(Geometry("POLYGON", srid=4326, spatial_index=False), nullable=False)
