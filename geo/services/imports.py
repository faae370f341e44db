"""Bulk import of 12345 hotline exports: never row by row.

Read the file once, validate every row vectorised, convert coordinates vectorised, join points
to grids in-process with an STRtree over the same subdivided pieces the one-case path queries,
route by unique (category, grid, jurisdictions) combination, then COPY each batch. The edge (the
CLI) commits after each batch, so a killed import leaves whole batches only, and running it again
skips what is there (idempotent on source + external id) and completes it exactly.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy.orm import Session

from geo.domain import cases as case_rules
from geo.domain.coordinates import normalize_crs_name, to_wgs84
from geo.domain.deadlines import URGENCIES, URGENCY_NAMES, Schedule, deadline_frame
from geo.domain.errors import InvalidInput
from geo.domain.exports import inert_text, private_output
from geo.domain.placement import Placement, PlacementIndex
from geo.domain.routing import Coverage, DutyRule, assign
from geo.domain.tables import read_table
from geo.domain.tickets import REASONS, Columns, ValidatedRows, category_lookup, resolve_columns, validate_rows
from geo.services import addresses as address_service
from geo.services import placement as placement_service
from geo.services import reference as reference_service
from geo.services.cases import CaseSettings
from geo.store import cases as case_store
from geo.store import reference as reference_store

__all__ = ["DEFAULT_BATCH", "ImportPlan", "ImportSummary", "import_batch", "prepare_import",
           "routing_context", "write_rejects"]

DEFAULT_BATCH = 100_000
#: Chinese urgency words in exports → urgency codes (the names, plus the short forms people write).
_URGENCY_ALIASES = {name: code for code, name in URGENCY_NAMES.items()} | {"疑难": "complex", "复杂": "complex"}


@dataclass
class RoutingContext:
    """Everything routing needs, read from PostGIS once per import."""

    index: PlacementIndex
    version_id: int
    unit_codes: list[str]
    unit_parents: list[str | None]
    unit_tree: shapely.STRtree | None
    rules: dict[str, list[DutyRule]]
    categories: dict[str, dict[str, Any]]
    #: (category, grid, covering units) → (placement, assignment), kept across batches
    assignments: dict[tuple[str, str, tuple[int, ...]], tuple[Placement, Any]] = field(default_factory=dict)


@dataclass
class ImportPlan:
    path: Path
    source: str
    crs: str
    columns: Columns
    raw: pd.DataFrame
    validated: ValidatedRows
    context: RoutingContext
    timezone: str
    schedule: Schedule
    batch_size: int = DEFAULT_BATCH

    def batches(self) -> Iterator[pd.DataFrame]:
        good = self.validated.good
        for start in range(0, len(good), self.batch_size):
            yield good.iloc[start:start + self.batch_size]


@dataclass
class ImportSummary:
    read: int = 0
    imported: int = 0
    skipped: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    refused: list[pd.DataFrame] = field(default_factory=list)

    def add(self, imported: int, skipped: int, refused: pd.DataFrame) -> None:
        self.imported += imported
        self.skipped += skipped
        self.rejected.update(refused["reason"].tolist())
        self.refused.append(refused)

    def line(self) -> str:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.rejected.items())) or "无"
        return (f"读取 {self.read} 行，导入 {self.imported}，已存在跳过 {self.skipped}，"
                f"拒绝 {sum(self.rejected.values())}（{reasons}），用时 {self.seconds:.1f} 秒")


def prepare_import(
    session: Session,
    path: str | Path,
    *,
    source: str,
    crs: str,
    fields: dict[str, str | None] | None = None,
    encoding: str | None = None,
    settings: CaseSettings | None = None,
    now: datetime | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> tuple[ImportPlan, ImportSummary]:
    """Read and validate the whole file, load the routing context; nothing is written yet."""
    started = time.perf_counter()
    settings = settings or CaseSettings()
    source = source.strip().lower()
    if not case_rules.SOURCE_PATTERN.fullmatch(source):
        raise InvalidInput(f"来源 --source={source!r} 应为 1–32 位小写字母、数字、_ 或 -，如 12345。", field="source",
                           code="bad_source")
    crs = normalize_crs_name(crs)
    raw = read_table(path, encoding=encoding)
    if raw.empty:
        raise InvalidInput("文件里没有数据行。", field="path", code="empty_file")
    columns = resolve_columns([str(c) for c in raw.columns], fields or {})
    context = routing_context(session)
    validated = validate_rows(raw, columns, categories=category_lookup(context.categories),
                              tz=case_rules.zone(settings.timezone), now=now or datetime.now(UTC))
    validated = _place_by_address(session, validated)
    summary = ImportSummary(read=len(raw))
    summary.add(0, 0, validated.refused)
    summary.seconds = time.perf_counter() - started
    plan = ImportPlan(Path(path), source, crs, columns, raw, validated, context, settings.timezone,
                      reference_service.schedule(session, settings.timezone), batch_size)
    return plan, summary


def _place_by_address(session: Session, validated: ValidatedRows) -> ValidatedRows:
    """Rows without coordinates but with an address get the gazetteer entry's WGS84 position (and keep its
    text as the case's ``address``); rows whose address matches nothing are refused (address_not_found)."""
    good = validated.good
    need = good["by_address"].to_numpy(dtype=bool)
    good = good.assign(address=None, orig_crs=None)
    if not need.any():
        return ValidatedRows(good, validated.refused)
    found = address_service.locate_many(session, good.loc[need, "address_text"].tolist())
    matches = good["address_text"].map(lambda a: found.get(a)).where(need, None)
    missing = need & matches.isna().to_numpy()
    placed = need & ~missing
    good.loc[placed, "x"] = [m.lon for m in matches[placed]]
    good.loc[placed, "y"] = [m.lat for m in matches[placed]]
    good.loc[placed, "address"] = [m.address for m in matches[placed]]
    good.loc[placed, "orig_crs"] = "wgs84"
    refused = pd.concat([validated.refused, pd.DataFrame({"line": good["line"].to_numpy()[missing],
                                                          "reason": "address_not_found"})], ignore_index=True)
    return ValidatedRows(good[~missing].reset_index(drop=True), refused)


def routing_context(session: Session) -> RoutingContext:
    index, version_id = placement_service.current_index(session)
    unit_codes, unit_parents, unit_geoms = reference_store.jurisdictions(session)
    return RoutingContext(
        index=index, version_id=version_id, unit_codes=unit_codes, unit_parents=unit_parents,
        unit_tree=shapely.STRtree(unit_geoms) if len(unit_geoms) else None,
        rules=reference_store.all_duty_rules(session), categories=reference_store.all_categories(session),
    )


def import_batch(session: Session, plan: ImportPlan, batch: pd.DataFrame) -> tuple[int, int, pd.DataFrame]:
    """Route and write one batch: (imported, skipped as already imported, refused rows)."""
    existing = case_store.existing_tickets(session, plan.source, batch["external_id"].tolist())
    known = batch["external_id"].isin(existing["external_id"]).to_numpy()
    same = known & _same_tickets(batch, existing)
    # A ticket number already used with other content is a conflict (someone may have taken the
    # number first), reported with its line, never skipped as if it had been imported.
    conflicts = pd.DataFrame({"line": batch["line"].to_numpy()[known & ~same], "reason": "conflict"})
    skipped_mask = same
    batch = batch[~known].reset_index(drop=True)
    if batch.empty:
        return 0, int(skipped_mask.sum()), conflicts
    lon, lat = to_wgs84(batch["x"].to_numpy(), batch["y"].to_numpy(), plan.crs)
    placed = batch["orig_crs"].notna().to_numpy()  # by the gazetteer: already WGS84
    lon = np.where(placed, batch["x"].to_numpy(dtype=float), lon)
    lat = np.where(placed, batch["y"].to_numpy(dtype=float), lat)
    found = plan.context.index.grid_codes(lon, lat)
    outside = pd.isna(found)
    refused = pd.concat([conflicts, pd.DataFrame({"line": batch["line"].to_numpy()[outside],
                                                  "reason": "outside_area"})], ignore_index=True)
    keep = ~outside
    rows = batch[keep].reset_index(drop=True)
    rows["lon"], rows["lat"], rows["grid_code"] = lon[keep], lat[keep], found[keep]
    _place_and_route(plan.context, rows, lon[keep], lat[keep])
    _deadlines(plan, rows)
    rows["orig_x"], rows["orig_y"] = rows["x"], rows["y"]
    rows["day"] = rows["reported_at"].dt.tz_convert(plan.timezone).dt.date
    imported = case_store.copy_cases(session, rows, source=plan.source, orig_crs=plan.crs,
                                     version_id=plan.context.version_id)
    return imported, int(skipped_mask.sum()) + (len(rows) - imported), refused


def _same_tickets(batch: pd.DataFrame, existing: pd.DataFrame) -> np.ndarray:
    """Per batch row: the stored case of its ticket has the same category, time (to the second)
    and original coordinates (to 1e-7)."""
    if existing.empty:
        return np.zeros(len(batch), dtype=bool)
    stored = existing.drop_duplicates("external_id").set_index("external_id")
    ids = batch["external_id"]
    category = ids.map(stored["category_code"])
    when = pd.to_datetime(ids.map(stored["reported_at"]), utc=True)
    x, y = ids.map(stored["orig_x"]).astype(float), ids.map(stored["orig_y"]).astype(float)
    return ((category == batch["category_code"])
            & ((when - batch["reported_at"]).abs() < pd.Timedelta(seconds=1))
            & ((x - batch["x"]).abs() < 1e-7) & ((y - batch["y"]).abs() < 1e-7)).fillna(False).to_numpy()


def _no_refusals() -> pd.DataFrame:
    return pd.DataFrame({"line": np.array([], dtype=int), "reason": np.array([], dtype=object)})


def _coverage_keys(context: RoutingContext, lon: np.ndarray, lat: np.ndarray) -> list[tuple[int, ...]]:
    keys: list[list[int]] = [[] for _ in range(len(lon))]
    if context.unit_tree is not None:
        point_idx, unit_idx = context.unit_tree.query(shapely.points(lon, lat), predicate="intersects")
        for p, u in zip(point_idx.tolist(), unit_idx.tolist(), strict=True):
            keys[p].append(u)
    return [tuple(sorted(k)) for k in keys]


def _place_and_route(context: RoutingContext, rows: pd.DataFrame, lon: np.ndarray, lat: np.ndarray) -> None:
    """Parents and departments per row: computed once per distinct (category, grid, jurisdictions)
    — a few thousand for a million rows — then spread to the rows by index."""
    keys = list(zip(rows["category_code"], rows["grid_code"], _coverage_keys(context, lon, lat), strict=True))
    codes, uniques = pd.factorize(pd.Series(keys, dtype=object))
    results = [_route_one(context, key) for key in uniques]
    columns: dict[str, list[Any]] = {
        "community_code": [p.community for p, _ in results],
        "street_code": [p.street for p, _ in results],
        "district_code": [p.district_code for p, _ in results],
        "lead_department": [a.lead for _, a in results],
        "co_departments": [list(a.co) for _, a in results],
        "routing_rule": [a.rule for _, a in results],
        "rule_hours": [a.resolve_limit_hours for _, a in results],
    }
    for column, values in columns.items():
        spread = np.empty(len(values), dtype=object)  # 1-D even when the values are lists
        spread[:] = values
        rows[column] = spread[codes]


def _route_one(context: RoutingContext, key: tuple[str, str, tuple[int, ...]]) -> tuple[Placement, Any]:
    if key not in context.assignments:
        category, grid, cov = key
        placement = context.index.place(grid)
        coverage = Coverage.from_pairs((context.unit_codes[i], context.unit_parents[i]) for i in cov)
        context.assignments[key] = (placement, assign(context.rules.get(category, []), placement, coverage))
    return context.assignments[key]


def _deadlines(plan: ImportPlan, rows: pd.DataFrame) -> None:
    """Deadlines per (urgency, clock, resolve limit) group, vectorised; working clocks per unique day."""
    cats = plan.context.categories
    default_urgency = rows["category_code"].map(lambda c: cats[c]["urgency"])
    given = rows["urgency"].map(lambda u: _URGENCY_ALIASES.get(u, u) if u else "")
    rows["urgency"] = np.where(given.isin(URGENCIES), given, default_urgency)
    clock = rows["category_code"].map(lambda c: cats[c]["clock"])
    cat_hours = rows["category_code"].map(lambda c: cats[c]["resolve_limit_hours"])
    hours = rows["rule_hours"].where(rows["rule_hours"].notna(), cat_hours)
    due = deadline_frame(rows["reported_at"], rows["urgency"], clock, hours, schedule=plan.schedule)
    rows["dispatch_due"], rows["respond_due"], rows["resolve_due"] = (
        due["dispatch_due"], due["respond_due"], due["resolve_due"])
    rows["resolve_limit_hours"] = hours.astype(float).where(hours.notna(), None)


def write_rejects(path: str | Path, plan: ImportPlan, refused: pd.DataFrame) -> int:
    """Refused rows with their line number, reason code, reason and original columns (UTF-8 with BOM)."""
    refused = refused.sort_values("line")
    original = plan.raw.iloc[(refused["line"] - 2).to_numpy()].reset_index(drop=True)
    table = pd.concat([refused.reset_index(drop=True).assign(message=refused["reason"].map(REASONS).to_numpy()),
                       original], axis=1)
    with private_output(path):
        inert_text(table).to_csv(path, index=False, encoding="utf-8-sig")  # no formula runs in Excel
    return len(table)
