"""Address gazetteer use cases: load a file, find addresses for the search box, place a case by its address."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from geo.domain import addresses as rules
from geo.domain.errors import InvalidInput, Unavailable
from geo.domain.exports import inert_text, private_output
from geo.store import addresses as store

__all__ = ["AddressLoad", "load_addresses", "locate", "locate_many", "search_addresses", "write_rejects"]

#: Candidates fetched per query before ``rules.choose`` decides.
CANDIDATES = 8
#: Rows per upsert statement.
UPSERT_ROWS = 20_000


@dataclass
class AddressLoad:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    crs: str = "wgs84"
    swapped: bool = False
    refused: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"line": [], "reason": []}))
    seconds: float = 0.0

    def line(self) -> str:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.refused["reason"].value_counts().items())) or "无"
        swapped = "（X/Y 按测量习惯对调：X 为北坐标）" if self.swapped else ""
        return (f"读取 {self.read} 行，新增地址 {self.inserted}，更新 {self.updated}，"
                f"拒绝 {len(self.refused)}（{reasons}），坐标系 {self.crs}{swapped}，用时 {self.seconds:.1f} 秒")


def _check_trigrams(session: Session) -> None:
    if not store.trigrams_work(session):
        raise Unavailable("数据库的字符分类（LC_CTYPE）是 C，pg_trgm 认不出中文，地址无法模糊匹配。"
                          "请用 UTF-8 的区域设置（如 C.UTF-8 或 zh_CN.UTF-8）创建数据库。", field="database",
                          code="trigram_locale")


def load_addresses(session: Session, path: str | Path, *, crs: str | None = None, encoding: str | None = None,
                   layer: str | None = None, fields: dict[str, str | None] | None = None,
                   replace: bool = False) -> AddressLoad:
    """Read a gazetteer file → WGS84 → upsert by normalised text (``replace``: drop every entry first)."""
    started = time.perf_counter()
    _check_trigrams(session)
    fields = fields or {}
    read = rules.read_address_file(path, crs=crs, encoding=encoding, layer=layer,
                                   address_field=fields.get("address"), x_field=fields.get("x"),
                                   y_field=fields.get("y"))
    if read.rows.empty:
        raise InvalidInput("文件里没有可用的地址行（每行需要地址和坐标）。", field="path", code="empty_file")
    summary = AddressLoad(read=len(read.rows) + len(read.refused), crs=read.crs, swapped=read.swapped,
                          refused=read.refused)
    if replace:
        store.delete_all(session)
    for start in range(0, len(read.rows), UPSERT_ROWS):
        inserted, updated = store.upsert(session, read.rows.iloc[start:start + UPSERT_ROWS], crs=read.crs)
        summary.inserted += inserted
        summary.updated += updated
    summary.seconds = time.perf_counter() - started
    return summary


def write_rejects(path: str | Path, summary: AddressLoad) -> int:
    """The refused rows (line, reason code, reason) as CSV, UTF-8 with a BOM (Excel shows Chinese)."""
    table = summary.refused.sort_values("line").assign(message=lambda t: t["reason"].map(rules.REASONS))
    with private_output(path):
        inert_text(table).to_csv(path, index=False, encoding="utf-8-sig")
    return len(table)


def search_addresses(session: Session, query: str, *, limit: int = 10, area: str | None = None
                     ) -> list[dict[str, Any]]:
    """Gazetteer entries like ``query`` for the map's search box, best first (``area``: only those in it)."""
    key = rules.match_key(query)
    if not key:
        return []
    return store.as_dicts(store.candidates(session, key, minimum=rules.SEARCH_MIN, limit=limit, area=area))


def locate(session: Session, address: str) -> rules.Candidate:
    """The gazetteer entry a typed address means; refused (422, field ``address``) when none or several fit."""
    key = rules.match_key(address)
    if not key:
        raise InvalidInput("地址 address 为空。", field="address", code="invalid_input")
    found = [c for c, _ in store.candidates(session, key, minimum=rules.MATCH_MIN, limit=CANDIDATES)]
    chosen = rules.choose(key, found)
    if chosen is None:
        near = "；相近的有：" + "、".join(c.address for c in found[:3]) if found else ""
        raise InvalidInput(f"地址库中没有找到与“{address[:60]}”对应的地址（或有多处同样相近）{near}。"
                           "请写到门牌号，或改用经纬度 lon/lat。", field="address", code="address_not_found")
    return chosen


def locate_many(session: Session, addresses: Iterable[str]) -> dict[str, rules.Candidate | None]:
    """``locate`` for many addresses at once (bulk import): raw text → entry or None."""
    raw = list(dict.fromkeys(addresses))
    keys = {a: rules.match_key(a) for a in raw}
    found = store.candidates_many(session, sorted({k for k in keys.values() if k}), minimum=rules.MATCH_MIN,
                                  limit=CANDIDATES)
    return {a: rules.choose(k, found.get(k, [])) if k else None for a, k in keys.items()}
