"""Tables, as SQLAlchemy models. Schema changes go through Alembic revisions, never create_all.

One module past 400 lines on purpose: the whole schema reads as one picture (foreign keys point
within the file) and tests/test_project.py compares it with the migrations in one go."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Unicode,
    UniqueConstraint,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from geo.domain.addresses import ADDRESS_MAX
from geo.domain.notices import DELIVERY_STATES
from geo.domain.requesters import EMAIL_MAX, NAME_MAX, REQUEST_TYPES
from geo.domain.topics import EVENT_ACTIONS as TOPIC_EVENT_ACTIONS
from geo.domain.topics import STATUSES as TOPIC_STATUSES
from geo.domain.whistles import SCORE_ASPECTS, SCORE_MAX, SCORE_MIN
from geo.domain.workflow import ROLES
from geo.store.vocabulary import next_due_sql, status_number_sql


def _digits(column: str, low: int, high: int) -> str:
    """``column`` is low…high ASCII digits (as ``~ '^[0-9]{low,high}$'``, at a third of a regex's cost:
    migration 0022)."""
    size = f"length({column}) = {low}" if low == high else f"length({column}) BETWEEN {low} AND {high}"
    return f"({size} AND ltrim({column}, '0123456789') = '')"


def _epoch(time_sql: str) -> str:
    """Whole epoch seconds of a timestamptz expression; NULL when absent or infinite."""
    # An interval's epoch is immutable (a timestamptz's is only stable): generated columns need that.
    return (f"CASE WHEN isfinite({time_sql}) THEN floor(extract(epoch FROM {time_sql} "
            "- TIMESTAMPTZ '1970-01-01 00:00:00+00'))::bigint END")

__all__ = [
    "ApiToken",
    "AppUser",
    "Base",
    "Boundary",
    "BoundaryPiece",
    "BoundaryVersion",
    "CalendarDay",
    "Case",
    "CaseCounter",
    "CaseEvent",
    "Category",
    "Department",
    "DutyRule",
    "Outbox",
    "Topic",
    "TopicEvent",
    "Whistle",
    "WhistleCase",
    "WhistleScore",
    "WhistleSummons",
]

LEVEL_CHECK = "level IN ('district', 'street', 'community', 'grid')"
URGENCY_CHECK = "urgency IN ('emergency', 'utility', 'general', 'complex')"
REQUEST_TYPE_CHECK = "request_type IN (" + ", ".join(f"'{t}'" for t in REQUEST_TYPES) + ")"


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


class Category(Base):
    """A problem category (4 digits: major class + minor class) with its default urgency and clock."""

    __tablename__ = "category"
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{4}$' AND left(code, 2) = major_code", name="ck_category_code"),
        CheckConstraint(URGENCY_CHECK, name="ck_category_urgency"),
        CheckConstraint("clock IN ('natural', 'working')", name="ck_category_clock"),
    )

    code: Mapped[str] = mapped_column(String(4), primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    major_code: Mapped[str] = mapped_column(String(2), nullable=False)
    major_name: Mapped[str] = mapped_column(Text, nullable=False)
    urgency: Mapped[str] = mapped_column(String(16), nullable=False, server_default="general")
    resolve_limit_hours: Mapped[float | None] = mapped_column(Float)
    clock: Mapped[str] = mapped_column(String(16), nullable=False, server_default="natural")


class Department(Base):
    """A functional department (条条) or one of its units, with an optional jurisdiction (辖区)."""

    __tablename__ = "department"
    __table_args__ = (Index("ix_department_jurisdiction", "jurisdiction", postgresql_using="gist"),)

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("department.code", ondelete="CASCADE"))
    jurisdiction = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False))


class DutyRule(Base):
    """One line of the duty list (责任清单): category + scope → lead and co-departments."""

    __tablename__ = "duty_rule"
    __table_args__ = (
        CheckConstraint("scope_kind IN ('citywide', 'boundary', 'jurisdiction')", name="ck_duty_rule_scope_kind"),
        UniqueConstraint("category_code", "scope_kind", "scope", name="uq_duty_rule_scope"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("category.code"), nullable=False)
    scope_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    scope: Mapped[str] = mapped_column(String(32), nullable=False, server_default="")
    lead_department: Mapped[str] = mapped_column(ForeignKey("department.code"), nullable=False)
    co_departments: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False, server_default="{}")
    resolve_limit_hours: Mapped[float | None] = mapped_column(Float)


class CaseCounter(Base):
    """The last sequence number used for readable case ids, per district and day."""

    __tablename__ = "case_counter"

    district_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[datetime] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(BigInteger, nullable=False)


class Case(Base):
    """One problem at one place, routed to its grid, boundaries and departments."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_cases_source_external_id"),
        CheckConstraint(URGENCY_CHECK, name="ck_cases_urgency"),
        CheckConstraint(REQUEST_TYPE_CHECK, name="ck_cases_request_type"),
        Index("ix_cases_geom", "geom", postgresql_using="gist"),
        Index("ix_cases_status", "status"),
        Index("ix_cases_category", "category_code"),
        Index("ix_cases_reported_at", "reported_at"),
        Index("ix_cases_grid_code", "grid_code", postgresql_ops={"grid_code": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: district (≤ 32) + date + a sequence of 6 to 19 digits (geo.domain.cases.case_number)
    case_no: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    source: Mapped[str] = mapped_column(String(32), nullable=False)
    external_id: Mapped[str | None] = mapped_column(String(128))
    category_code: Mapped[str] = mapped_column(ForeignKey("category.code"), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    urgency: Mapped[str] = mapped_column(String(16), nullable=False)
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=False)
    orig_x: Mapped[float] = mapped_column(Float, nullable=False)
    orig_y: Mapped[float] = mapped_column(Float, nullable=False)
    orig_crs: Mapped[str] = mapped_column(String(32), nullable=False)
    grid_code: Mapped[str] = mapped_column(String(32), nullable=False)
    community_code: Mapped[str | None] = mapped_column(String(32))
    street_code: Mapped[str | None] = mapped_column(String(32))
    district_code: Mapped[str | None] = mapped_column(String(32))
    boundary_version_id: Mapped[int] = mapped_column(ForeignKey("boundary_version.id"), nullable=False)
    lead_department: Mapped[str | None] = mapped_column(String(32))
    co_departments: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False, server_default="{}")
    routing_rule: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="received")
    dispatch_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    respond_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolve_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revision: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    resolve_limit_hours: Mapped[float | None] = mapped_column(Float)
    #: A pending extension request (延期): the resolve deadline the lead department asked for.
    extension_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: This round's callback (回访): contacted / solved / satisfied; cleared by a reopen.
    callback: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    #: The requester (诉求人), personal data: geo.domain.permissions decides who sees it unmasked.
    requester_name: Mapped[str | None] = mapped_column(String(NAME_MAX))
    requester_phone: Mapped[str | None] = mapped_column(String(16))
    requester_email: Mapped[str | None] = mapped_column(String(EMAIL_MAX))
    request_type: Mapped[str | None] = mapped_column(String(16))
    #: The gazetteer address a case was placed by (API or import with an address and no coordinates).
    address: Mapped[str | None] = mapped_column(String(ADDRESS_MAX))


class Address(Base):
    """The address gazetteer (地址库): standard addresses and door plates with a position
    (``gridmap addresses load``), matched by pg_trgm on the normalised text."""

    __tablename__ = "address"
    __table_args__ = (
        UniqueConstraint("norm", name="uq_address_norm"),
        Index("ix_address_geom", "geom", postgresql_using="gist"),
        Index("ix_address_key_trgm", "key", postgresql_using="gin", postgresql_ops={"key": "gin_trgm_ops"}),
        Index("ix_address_key", "key"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    address: Mapped[str] = mapped_column(String(ADDRESS_MAX), nullable=False)
    norm: Mapped[str] = mapped_column(String(ADDRESS_MAX), nullable=False)
    #: What is compared (geo.domain.addresses.match_key): the normalised text without 北京市/…区/…街道.
    key: Mapped[str] = mapped_column(String(ADDRESS_MAX), nullable=False)
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=False)
    orig_x: Mapped[float | None] = mapped_column(Float)
    orig_y: Mapped[float | None] = mapped_column(Float)
    orig_crs: Mapped[str | None] = mapped_column(String(32))
    #: The grid it lay in when loaded (None: in no grid).
    grid_code: Mapped[str | None] = mapped_column(String(32))
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class AppUser(Base):
    """A person: a role, a boundary scope (code prefix) and, for department staff, a department."""

    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint("role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")", name="ck_app_user_role"),
        CheckConstraint("role <> 'department_staff' OR department_code IS NOT NULL", name="ck_app_user_department"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    display_name: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    scope: Mapped[str] = mapped_column(String(32), nullable=False, server_default="")
    department_code: Mapped[str | None] = mapped_column(ForeignKey("department.code"))
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=true())
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    session_epoch: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")


class ApiToken(Base):
    """A bearer token for API clients, stored as its SHA-256 (the token itself is shown once)."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CaseEvent(Base):
    """One change to a case: who, role, when, where, from → to, why. Append-only (a trigger refuses
    UPDATE, DELETE and TRUNCATE)."""

    __tablename__ = "case_event"
    __table_args__ = (
        Index("ix_case_event_case", "case_id", "id"),
        Index("ix_case_event_action_at", "action", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    actor_name: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    actor_role: Mapped[str] = mapped_column(String(32), nullable=False, server_default="")
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    details: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")


class CalendarDay(Base):
    """A holiday (节假日) or a weekend day that is a workday (调休) for working-day clocks."""

    __tablename__ = "calendar_day"
    __table_args__ = (CheckConstraint("kind IN ('holiday', 'workday')", name="ck_calendar_day_kind"),)

    day: Mapped[datetime] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False, server_default="")


class Outbox(Base):
    """A notification for the delivery channels (webhooks, e-mail; ``outbox_delivery``) or
    ``gridmap outbox drain``. ``sent_at``: every channel took it (or drain printed it);
    ``routed_at``: the delivery job matched it to its channels."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unsent", "id", postgresql_where=text("sent_at IS NULL")),
                      Index("ix_outbox_unrouted", "id", postgresql_where=text("sent_at IS NULL AND routed_at IS NULL")))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    recipient: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    payload: Mapped[dict] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    routed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OutboxDelivery(Base):
    """One notice on one channel: ``pending`` (due at ``next_attempt_at``) → ``sent``, or ``dead``
    after the last allowed attempt (geo.domain.notices)."""

    __tablename__ = "outbox_delivery"
    __table_args__ = (
        CheckConstraint(f"state IN ({', '.join(repr(s) for s in DELIVERY_STATES)})", name="ck_outbox_delivery_state"),
        Index("ix_outbox_delivery_due", "next_attempt_at", postgresql_where=text("state = 'pending'")),
    )

    outbox_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False,
                                                      server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SchedulerJob(Base):
    """APScheduler's SQLAlchemy job store (its layout): each periodic job's next run, pickled."""

    __tablename__ = "scheduler_job"

    id: Mapped[str] = mapped_column(Unicode(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(Float(25), index=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class JobRun(Base):
    """What each background job did last, whichever process ran it (``/metrics``, ``gridmap jobs list``)."""

    __tablename__ = "job_run"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    runs: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    failures: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    last_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_seconds: Mapped[float | None] = mapped_column(Float)
    last_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_result: Mapped[int | None] = mapped_column(BigInteger)
    last_host: Mapped[str | None] = mapped_column(Text)


class Whistle(Base):
    """A whistle (吹哨) summoning departments to one or more unfinished cases, blown by a street, a
    community (its cases) or a department (the cases it leads); ``round`` counts its openings (a
    case going back to work opens it again: 事不完、人不撤)."""

    __tablename__ = "whistle"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed')", name="ck_whistle_status"),
        CheckConstraint("(whistler_area IS NULL) <> (whistler_department IS NULL)", name="ck_whistle_whistler"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    street_code: Mapped[str] = mapped_column(String(32), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    lead_department: Mapped[str] = mapped_column(ForeignKey("department.code"), nullable=False)
    co_departments: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False, server_default="{}")
    created_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="open")
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    round: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    whistler_role: Mapped[str] = mapped_column(String(32), nullable=False, server_default="street_leader")
    #: The whistling street's or community's code (a street or community whistle) …
    whistler_area: Mapped[str | None] = mapped_column(String(32))
    #: … or the whistling department (a department whistle).
    whistler_department: Mapped[str | None] = mapped_column(ForeignKey("department.code"))


class WhistleCase(Base):
    __tablename__ = "whistle_case"
    __table_args__ = (Index("ix_whistle_case_case", "case_id"),)

    whistle_id: Mapped[int] = mapped_column(ForeignKey("whistle.id", ondelete="CASCADE"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)


class WhistleSummons(Base):
    """A department summoned by a whistle, and its check-in (报到): when, where, how far, late or not."""

    __tablename__ = "whistle_summons"
    __table_args__ = (CheckConstraint("role IN ('lead', 'co')", name="ck_whistle_summons_role"),)

    whistle_id: Mapped[int] = mapped_column(ForeignKey("whistle.id", ondelete="CASCADE"), primary_key=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("department.code"), primary_key=True)
    role: Mapped[str] = mapped_column(String(8), nullable=False)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reported_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    report_lon: Mapped[float | None] = mapped_column(Float)
    report_lat: Mapped[float | None] = mapped_column(Float)
    distance_m: Mapped[float | None] = mapped_column(Float)
    late: Mapped[bool | None] = mapped_column(Boolean)


class WhistleScore(Base):
    """The whistler's score of one summoned department for one round of a whistle (街道考核部门):
    arrival (到场), cooperation (配合) and result (效果), each 1–5."""

    __tablename__ = "whistle_score"
    __table_args__ = tuple(
        CheckConstraint(f"{aspect} BETWEEN {SCORE_MIN} AND {SCORE_MAX}", name=f"ck_whistle_score_{aspect}")
        for aspect in SCORE_ASPECTS)

    whistle_id: Mapped[int] = mapped_column(ForeignKey("whistle.id", ondelete="CASCADE"), primary_key=True)
    round: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    department_code: Mapped[str] = mapped_column(ForeignKey("department.code"), primary_key=True)
    arrival: Mapped[int] = mapped_column(Integer, nullable=False)
    cooperation: Mapped[int] = mapped_column(Integer, nullable=False)
    result: Mapped[int] = mapped_column(Integer, nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    scored_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"), nullable=False)
    scored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


#: case_fact.record: the case's numbers as 84 big-endian bytes, its status parts built from the vocabulary
#: (migration 0022 froze a copy; tests/test_one_home.py checks they are the same). Times are whole
#: epoch seconds in int8 (no stored time can overflow them; an infinite one counts as absent).
CASE_FACT_RECORD_SQL = """
    int8send(CASE WHEN """ + _digits("grid_code", 1, 17) + """ THEN ('1' || grid_code)::bigint ELSE 0 END)
    || int8send(CASE WHEN """ + _digits("community_code", 1, 17) + """ THEN ('1' || community_code)::bigint ELSE 0 END)
    || int8send(CASE WHEN """ + _digits("street_code", 1, 17) + """ THEN ('1' || street_code)::bigint ELSE 0 END)
    || int8send(CASE WHEN """ + _digits("district_code", 1, 17) + """ THEN ('1' || district_code)::bigint ELSE 0 END)
    || int8send(coalesce(hashtextextended(lead_department, 0), 0))
    || int4send((CASE WHEN dispatched_at IS NOT NULL THEN 1 ELSE 0 END)
                | (CASE WHEN responded_at <= respond_clock_due THEN 2 ELSE 0 END)
                | (CASE WHEN callback_contacted THEN 4 ELSE 0 END)
                | (CASE WHEN callback_contacted AND callback_solved THEN 8 ELSE 0 END)
                | (CASE WHEN callback_contacted AND callback_satisfied THEN 16 ELSE 0 END)
                | (CASE WHEN is_repeat THEN 32 ELSE 0 END)
                | (CASE WHEN resolved_at <= resolve_due THEN 64 ELSE 0 END)
                | (CASE WHEN responded_at IS NOT NULL THEN 128 ELSE 0 END)
                | (""" + status_number_sql() + """ << 8)
                | ((CASE WHEN """ + _digits("category_code", 4, 4) + """ THEN category_code::int ELSE 0 END) << 16))
    || int8send(coalesce(""" + _epoch("reported_at") + """, -9223372036854775807))
    || int8send(coalesce(""" + _epoch("resolve_due") + """, -9223372036854775807))
    || int8send(coalesce(""" + _epoch(next_due_sql()) + """, 9223372036854775807))
    || int8send(coalesce(""" + _epoch("respond_due") + """, 9223372036854775807))
    || float4send(coalesce((extract(epoch FROM responded_at - respond_clock_at) / 3600)::float4, 'NaN'))
    || float4send(coalesce((extract(epoch FROM resolved_at - clock_at) / 3600)::float4, 'NaN'))"""


#: The map's case counts, kept by triggers on ``cases`` (migration 0021_counters; read by
#: geo.store.case_counts): community × street × category × status × UTC day of the next deadline.
case_count = Table(
    "case_count", Base.metadata,
    Column("street_code", String(32)),
    Column("community_code", String(32)),
    Column("category_code", String(4), nullable=False),
    Column("status", String(16), nullable=False),
    Column("due_day", Integer),
    Column("cases", Integer, nullable=False),
    Index("uq_case_count_key", "street_code", "community_code", "category_code", "status", "due_day",
          unique=True, postgresql_nulls_not_distinct=True),
)

class CaseFact(Base):
    """Measure facts of one case, derived from its case_event rows (see geo.store.stats); rebuildable."""

    __tablename__ = "case_fact"
    __table_args__ = (Index("ix_case_fact_cell", "category_code", "cell_x", "cell_y"),)

    #: No foreign key (migration 0022): only the fold writes here, joining each fact to its case.
    case_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    grid_code: Mapped[str] = mapped_column(String(32), nullable=False)
    community_code: Mapped[str | None] = mapped_column(String(32))
    street_code: Mapped[str | None] = mapped_column(String(32))
    district_code: Mapped[str | None] = mapped_column(String(32))
    category_code: Mapped[str] = mapped_column(String(4), nullable=False)
    lead_department: Mapped[str | None] = mapped_column(String(32))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    dispatch_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    respond_clock_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    respond_clock_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    clock_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    respond_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolve_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    callback_contacted: Mapped[bool | None] = mapped_column(Boolean)
    callback_solved: Mapped[bool | None] = mapped_column(Boolean)
    callback_satisfied: Mapped[bool | None] = mapped_column(Boolean)
    x: Mapped[float] = mapped_column(Float, nullable=False)
    y: Mapped[float] = mapped_column(Float, nullable=False)
    cell_x: Mapped[int] = mapped_column(Integer, nullable=False)
    cell_y: Mapped[int] = mapped_column(Integer, nullable=False)
    is_repeat: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    last_event_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    #: The case's request type (诉求类型; immutable, from its intake row): measures can be split by it.
    request_type: Mapped[str | None] = mapped_column(String(16))
    record: Mapped[bytes] = mapped_column(LargeBinary, Computed(CASE_FACT_RECORD_SQL, persisted=True),
                                          nullable=False)


class CasePhoto(Base):
    """A photo of a case: re-encoded JPEG/PNG without metadata, kept in the database (backups carry it)."""

    __tablename__ = "case_photo"
    __table_args__ = (
        Index("ix_case_photo_case", "case_id"),
        CheckConstraint("content_type IN ('image/jpeg', 'image/png')", name="ck_case_photo_type"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), nullable=False)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    content_type: Mapped[str] = mapped_column(String(32), nullable=False)
    width: Mapped[int] = mapped_column(Integer, nullable=False)
    height: Mapped[int] = mapped_column(Integer, nullable=False)
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class CaseFactState(Base):
    """The watermark of case_fact: the last case_event id folded in (one row)."""

    __tablename__ = "case_fact_state"
    __table_args__ = (CheckConstraint("id = 1", name="ck_case_fact_state_one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_event_id: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class CaseFactGap(Base):
    """case_event ids below the watermark not yet visible (a transaction in flight, or rolled back)."""

    __tablename__ = "case_fact_gap"

    first_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    seen_xmax: Mapped[int] = mapped_column(BigInteger, nullable=False)
    found_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


def _one_of(column: str, values: Iterable[str]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Topic(Base):
    """A monthly topic (每月一题): a category in target boundaries, set by a planner for a month."""

    __tablename__ = "topic"
    __table_args__ = (
        CheckConstraint(_one_of("status", TOPIC_STATUSES), name="ck_topic_status"),
        CheckConstraint("month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'", name="ck_topic_month"),
        CheckConstraint("category_code ~ '^[0-9]{2}([0-9]{2})?$'", name="ck_topic_category"),
        CheckConstraint("cardinality(targets) > 0", name="ck_topic_targets"),
        Index("ix_topic_month", "month"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    category_code: Mapped[str] = mapped_column(String(4), nullable=False)
    targets: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False)
    month: Mapped[str] = mapped_column(String(7), nullable=False)
    lead_department: Mapped[str] = mapped_column(ForeignKey("department.code"), nullable=False)
    co_departments: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False, server_default="{}")
    goal: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    tasks: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="active")
    created_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TopicEvent(Base):
    """One change to a topic: created, updated (what changed), closed; who and when. Append-only (a
    trigger refuses UPDATE, DELETE and TRUNCATE)."""

    __tablename__ = "topic_event"
    __table_args__ = (
        CheckConstraint(_one_of("action", TOPIC_EVENT_ACTIONS), name="ck_topic_event_action"),
        Index("ix_topic_event_topic", "topic_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topic.id"), nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    actor_name: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    actor_role: Mapped[str] = mapped_column(String(32), nullable=False, server_default="")
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    details: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
