"""Demo data: the sample boundaries, departments, duty list and users shipped in ``data/``, and a
handling history for the demo 12345 cases (see geo.domain.demo)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
from sqlalchemy.orm import Session

from geo.domain.demo import plan_history
from geo.services import accounts
from geo.services import addresses as address_service
from geo.services import boundaries as boundary_service
from geo.services import reference as reference_service
from geo.services.boundaries import BoundarySettings, LoadReport
from geo.store import demo as store

__all__ = ["DEMO_PASSWORD_BYTES", "DEMO_USERS", "SAMPLE_LAYERS", "TICKETS", "DemoTickets", "DemoUser", "SampleReport",
           "load_samples", "simulate_history"]

#: Length (bytes of randomness) of the demo accounts' password: new for every install, printed once,
#: never a published constant anyone could try on a demo left running on an intranet.
DEMO_PASSWORD_BYTES = 9


class DemoUser(NamedTuple):
    username: str
    role: str
    scope: str
    department: str | None
    display_name: str


DEMO_USERS = (
    DemoUser("wangge1", "grid_worker", "110102004004", None, "网格员 李明"),
    DemoUser("shequ1", "community_leader", "110102004004", None, "社区负责人 陈书记"),
    DemoUser("jiedao1", "street_leader", "110102004", None, "新街口街道 王主任"),
    DemoUser("rexian1", "hotline", "110102", None, "12345 接诉中心 刘话务员"),
    DemoUser("cgw1", "department_staff", "", "CGW", "城管委 赵科长"),
    DemoUser("ga1", "department_staff", "", "GA", "公安分局 孙警官"),
    DemoUser("guihua1", "planner", "", None, "规划分析 周工"),
    DemoUser("admin", "admin", "", None, "系统管理员"),
)

#: The sample boundary files under ``data/boundaries/`` and how to read them (see data/boundaries/README.md).
SAMPLE_LAYERS: tuple[dict[str, Any], ...] = (
    {"path": "district.geojson", "level": "district", "code_field": "code", "name_field": "name"},
    {"path": "streets.geojson", "level": "street", "code_field": "code", "name_field": "name",
     "parent_field": "parent_code"},
    {"path": "communities.gpkg", "level": "community", "layer": "communities", "code_field": "社区编码",
     "name_field": "社区名称", "parent_field": "街道编码"},
    {"path": "grids.shp", "level": "grid", "encoding": "gbk", "code_field": "网格编码",
     "name_field": "网格名称", "parent_field": "社区编码"},
)
#: The sample departments (with the police units' jurisdictions) and duty list under ``data/reference/``.
SAMPLE_DEPARTMENTS = ("departments.csv", "police_units.geojson")
SAMPLE_DUTIES = "duties.csv"


@dataclass(frozen=True)
class DemoTickets:
    """The demo 12345 export under ``data/`` and how to import it."""

    path: str
    source: str
    crs: str


#: Coordinates as the hotline exports them: GCJ-02 (高德/腾讯).
#: The sample gazetteer (scripts/make_sample_addresses.py): door plates inside the sample grids.
SAMPLE_ADDRESSES = "addresses/门牌地址.csv"
TICKETS = DemoTickets(path="demo/hotline_12345.csv", source="12345", crs="gcj02")


@dataclass(frozen=True)
class SampleReport:
    """What ``load_samples`` loaded: one report per boundary layer, the duty rules, the demo users."""

    boundaries: tuple[LoadReport, ...]
    duty_rules: int
    users: tuple[DemoUser, ...]
    password: str


def load_samples(session: Session, data_dir: Path, *, settings: BoundarySettings | None = None,
                 loaded: Callable[[LoadReport], None] | None = None) -> SampleReport:
    """Load the sample boundaries, departments, duty list and demo users from ``data_dir`` (the
    repository's ``data/`` folder) in the caller's transaction; ``loaded`` hears of each boundary layer.

    Steps: boundaries (district → street → community → grid) → reference data → sample addresses → users.
    """
    reports = _load_boundaries(session, data_dir / "boundaries", settings, loaded)
    rules = _load_reference(session, data_dir / "reference")
    address_service.load_addresses(session, data_dir / SAMPLE_ADDRESSES)
    password = secrets.token_urlsafe(DEMO_PASSWORD_BYTES)
    _create_users(session, password)
    return SampleReport(boundaries=reports, duty_rules=rules, users=DEMO_USERS, password=password)


def _load_boundaries(session: Session, folder: Path, settings: BoundarySettings | None,
                     loaded: Callable[[LoadReport], None] | None) -> tuple[LoadReport, ...]:
    reports = []
    for spec in SAMPLE_LAYERS:
        options = {k: v for k, v in spec.items() if k not in ("path", "level")}
        report = boundary_service.load_boundaries(session, folder / spec["path"], spec["level"], settings=settings,
                                                  **options)
        if loaded is not None:
            loaded(report)
        reports.append(report)
    return tuple(reports)


def _load_reference(session: Session, folder: Path) -> int:
    for name in SAMPLE_DEPARTMENTS:
        reference_service.load_departments(session, folder / name)
    return reference_service.load_duties(session, folder / SAMPLE_DUTIES)


def _create_users(session: Session, password: str) -> None:
    for user in DEMO_USERS:
        accounts.register_user(session, user.username, role=user.role, password=password, scope=user.scope,
                             department=user.department, display_name=user.display_name)


def simulate_history(session: Session, *, now: datetime | None = None, seed: int = 12345) -> int:
    """Give the cases nobody has touched a plausible history up to ``now``; returns events written."""
    cases = store.untouched_cases(session)
    if cases.empty:
        return 0
    events = plan_history(cases, now=pd.Timestamp(now or datetime.now(UTC)), seed=seed)
    return store.write_history(session, events)
