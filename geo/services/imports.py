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
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from sqlalchemy.orm import Session

from geo.domain import cases as case_rules
from geo.domain.coordinates import normalize_crs_name, to_wgs84
from geo.domain.deadlines import URGENCIES, URGENCY_NAMES, Schedule, deadline_frame
from geo.domain.errors import Conflict, InvalidInput
from geo.domain.exports import inert_text, private_output
from geo.domain.tables import read_table
from geo.domain.tickets import REASONS, Columns, ValidatedRows, category_lookup, resolve_columns, validate_rows
from geo.services import addresses as address_service
from geo.services import reference as reference_service
from geo.services import stats as stats_service
from geo.services.bulk_routing import RoutingContext, place_and_route, routing_context
from geo.services.cases import CaseSettings
from geo.store import case_copy
from geo.store import cases as case_store
from geo.store.db import DATABASE_ERRORS

__all__ = ["BULK_MIN_ROWS", "DATABASE_ERRORS", "DEFAULT_BATCH", "LOAD_MODES", "ImportPlan", "ImportSummary",
           "batch_failure", "finish_import", "fold_failure", "import_batch", "import_bulk", "prepare_import",
           "routing_context", "wants_bulk", "write_rejects"]

DEFAULT_BATCH = 100_000
#: ``auto`` loads at least this many rows with the indexes rebuilt after (when cases holds no more).
BULK_MIN_ROWS = 50_000
LOAD_MODES = ("auto", "batches", "bulk")
#: Chinese urgency words in exports → urgency codes (the names, plus the short forms people write).
_URGENCY_ALIASES = {name: code for code, name in URGENCY_NAMES.items()} | {"疑难": "complex", "复杂": "complex"}


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


def import_batch(session: Session, plan: ImportPlan, batch: pd.DataFrame) -> tuple[int, int, pd.DataFrame]:
    """Route and write one batch: (imported, skipped as already imported, refused rows)."""
    batch, skipped, conflicts = _unknown_rows(session, plan, batch)
    if batch.empty:
        return 0, skipped, conflicts
    imported, outside = _write_rows(session, plan, batch)
    return imported, skipped, pd.concat([conflicts, outside], ignore_index=True)


def wants_bulk(session: Session, plan: ImportPlan, mode: str) -> bool:
    """Whether this import rebuilds the indexes after loading (``bulk``) rather than committing
    batch by batch: asked for, or (``auto``) a load of at least BULK_MIN_ROWS rows that is at least
    as large as what ``cases`` holds already (a district's first year of history). Building an
    index once over the whole table beats maintaining it row by row only while the new rows are
    a large share of it; the bulk path also holds the case tables for the load's duration."""
    if mode not in LOAD_MODES:
        raise InvalidInput(f"--load={mode!r} 应为 {'、'.join(LOAD_MODES)} 之一。", field="load", code="bad_load_mode")
    if mode != "auto":
        return mode == "bulk"
    rows = len(plan.validated.good)
    return rows >= BULK_MIN_ROWS and case_copy.estimated_cases(session) <= rows


def import_bulk(session: Session, plan: ImportPlan, progress: Callable[[int], object] = lambda n: None, *,
                lock_seconds: float = 30) -> tuple[int, int, pd.DataFrame]:
    """The whole file in the caller's one transaction, with the case tables' secondary indexes and
    foreign keys dropped for the load and built once after it (geo/store/case_copy.bulk_load):
    (imported, skipped, refused). All or nothing: a failure, a duplicate found by a rebuilt unique
    index included, rolls back every row and restores the indexes."""
    rows, skipped, refused = _unknown_rows(session, plan, plan.validated.good)
    imported = 0
    parts = [refused]
    # One writer thread COPYs a chunk while this thread places and routes the next: PostgreSQL's
    # side of a COPY (parsing, heap) then runs on the other core. Only one thread at a time uses
    # the session: this one touches it again only after the writer's last result.
    with case_copy.bulk_load(session, lock_timeout=f"{int(lock_seconds * 1000)}ms"), \
            ThreadPoolExecutor(1, thread_name_prefix="copy") as writer:
        pending: Future[int] | None = None
        for start in range(0, len(rows), plan.batch_size):
            chunk = rows.iloc[start:start + plan.batch_size]
            ready, outside = _prepare_rows(plan, chunk)
            parts.append(outside)
            if pending is not None:
                imported += pending.result()
            pending = writer.submit(_copy, session, plan, ready, locked=True)
            progress(len(chunk))
        if pending is not None:
            imported += pending.result()
    return imported, skipped, pd.concat(parts, ignore_index=True)


def _unknown_rows(session: Session, plan: ImportPlan, batch: pd.DataFrame) -> tuple[pd.DataFrame, int, pd.DataFrame]:
    """The rows whose ticket is not stored yet, how many are stored already with the same content
    (skipped), and the rows whose ticket number is stored with other content (refused: conflict)."""
    existing = case_store.existing_tickets(session, plan.source, batch["external_id"].tolist())
    known = batch["external_id"].isin(existing["external_id"]).to_numpy()
    same = known & _same_tickets(batch, existing)
    # A ticket number already used with other content is a conflict (someone may have taken the
    # number first), reported with its line, never skipped as if it had been imported.
    conflicts = pd.DataFrame({"line": batch["line"].to_numpy()[known & ~same], "reason": "conflict"})
    return batch[~known].reset_index(drop=True), int(same.sum()), conflicts


def _write_rows(session: Session, plan: ImportPlan, batch: pd.DataFrame) -> tuple[int, pd.DataFrame]:
    """Place, route, time and COPY a batch's new rows: (written, refused as outside the area)."""
    rows, refused = _prepare_rows(plan, batch)
    return _copy(session, plan, rows, locked=False), refused


def _prepare_rows(plan: ImportPlan, batch: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Place, route and time rows (no database): (rows ready to COPY, refused as outside the area)."""
    lon, lat = to_wgs84(batch["x"].to_numpy(), batch["y"].to_numpy(), plan.crs)
    placed = batch["orig_crs"].notna().to_numpy()  # by the gazetteer: already WGS84
    lon = np.where(placed, batch["x"].to_numpy(dtype=float), lon)
    lat = np.where(placed, batch["y"].to_numpy(dtype=float), lat)
    points = shapely.points(lon, lat)  # made once: placing and the jurisdictions both query them
    found = plan.context.index.grid_codes(lon, lat, points)
    outside = pd.isna(found)
    refused = pd.DataFrame({"line": batch["line"].to_numpy()[outside], "reason": "outside_area"})
    keep = ~outside
    rows = batch[keep].reset_index(drop=True)
    rows["lon"], rows["lat"], rows["grid_code"] = lon[keep], lat[keep], found[keep]
    place_and_route(plan.context, rows, lon[keep], lat[keep], points[keep])
    _deadlines(plan, rows)
    rows["orig_x"], rows["orig_y"] = rows["x"], rows["y"]
    # The local day (a case number's date): datetime64 midnights, never a Python date per row.
    rows["day"] = rows["reported_at"].dt.tz_convert(plan.timezone).dt.tz_localize(None).dt.floor("D")
    return rows, refused


def _copy(session: Session, plan: ImportPlan, rows: pd.DataFrame, *, locked: bool) -> int:
    return case_copy.copy_cases(session, rows, source=plan.source, orig_crs=plan.crs,
                                version_id=plan.context.version_id, locked=locked)


def finish_import(session: Session) -> int:
    """After the last batch: fresh planner statistics for the tables a bulk load grew (plans over
    rows PostgreSQL has not counted flip between fast and quadratic), then the new cases folded
    into the statistics (case_fact), so no statistics page waits on the import's backlog.
    Returns the cases folded."""
    case_copy.analyze(session)
    return stats_service.refresh_facts(session)


def fold_failure(summary: ImportSummary, exc: Exception) -> Conflict:
    """The error when every batch is in but folding them into the statistics failed."""
    primary = getattr(getattr(getattr(exc, "orig", exc), "diag", None), "message_primary", None) or type(exc).__name__
    return Conflict(f"案件已全部导入（{summary.imported} 行），但计入统计失败（{primary}）：请运行 "
                    "gridmap stats refresh 重试。", field="facts", code="fold_failed",
                    details={"committed_rows": summary.imported})


_LOCK_NOT_AVAILABLE = "55P03"

#: Constraints a batch can hit, in words: what went wrong and what to do.
_CONSTRAINT_WORDS = {
    "cases_case_no_key": ("案件编号重复：编号计数器 case_counter 落后于已有的案件（例如只恢复了部分数据）",
                          "把 case_counter.last 调到该区该日已用的最大序号后重新运行"),
    "uq_cases_source_external_id": ("工单编号已被另一次同时运行的导入写入", "等另一次导入结束后重新运行"),
}


def batch_failure(number: int, batch: pd.DataFrame, summary: ImportSummary, exc: Exception) -> Conflict:
    """The error to report when the database refused batch ``number`` (rolled back whole): which
    batch and file lines, which row when the database names its key, why in words, what the
    batches before it left committed, and how to finish (rerun: what is stored is skipped)."""
    diag = getattr(getattr(exc, "orig", exc), "diag", None)
    constraint = getattr(diag, "constraint_name", None) or ""
    detail = getattr(diag, "message_detail", None) or ""
    primary = getattr(diag, "message_primary", None) or str(getattr(exc, "orig", exc)).splitlines()[0]
    why, fix = _CONSTRAINT_WORDS.get(constraint, (f"数据库拒绝写入（{primary}）", "排除原因后重新运行"))
    if getattr(getattr(exc, "orig", exc), "sqlstate", None) == _LOCK_NOT_AVAILABLE:
        why, fix = ("案件表正被其他连接使用（地图、接口或另一个导入），整批导入等不到独占",
                    "稍后（如夜间）重新运行，或用 --load batches 分批导入（导入时地图照常可用）")
    lines = batch["line"].to_numpy()
    row = ""
    ids = batch["external_id"].astype(str)
    for external_id in ids[ids.map(lambda i: f", {i})" in detail or f"={i})" in detail)].head(1):
        row = f"，出错的是第 {int(batch.loc[ids == external_id, 'line'].iloc[0])} 行（工单编号 {external_id}）"
    key = f"（{detail}）" if detail else ""
    message = (f"第 {number} 批（文件第 {int(lines.min())}–{int(lines.max())} 行，{len(batch)} 行）写入失败，"
               f"本批一行也没有写入{row}：{why}{key}。之前的 {number - 1} 批已提交（导入 {summary.imported} 行）；"
               f"{fix}，已导入的行会跳过。")
    return Conflict(message, field="path", code="batch_failed",
                    details={"batch": number, "first_line": int(lines.min()), "last_line": int(lines.max()),
                             "committed_rows": summary.imported, "constraint": constraint or None})


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


def _deadlines(plan: ImportPlan, rows: pd.DataFrame) -> None:
    """Deadlines per (urgency, clock, resolve limit) group, vectorised; working clocks per unique day."""
    cats = plan.context.categories
    category = rows["category_code"]
    default_urgency = category.map({c: v["urgency"] for c, v in cats.items()})
    given = rows["urgency"].fillna("").replace(_URGENCY_ALIASES)
    rows["urgency"] = np.where(given.isin(URGENCIES), given, default_urgency)
    clock = category.map({c: v["clock"] for c, v in cats.items()})
    cat_hours = category.map({c: v["resolve_limit_hours"] for c, v in cats.items()})
    hours = pd.to_numeric(rows["rule_hours"], errors="coerce").where(rows["rule_hours"].notna(), cat_hours)
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
