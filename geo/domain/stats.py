"""Measures (DOMAIN.md "Measures"): from per-case facts to per-boundary rates, a score and a rank.

Pure: pandas and numpy only. One module past 400 lines on purpose: the definitions of the
measures and their two implementations (numpy over storage's records, pandas as the reference a
test compares it with) sit side by side, so a change to what a rate means is made in one place.
Storage (geo.store.stats) derives one row of facts per case from
case_event and streams them as fixed-size records; this module sums them per boundary (numpy)
and owns what the numbers mean:

- the three rates (三率) and two more, each with its numerator and denominator kept beside it:

  ===========================  ========================  =====================  ==================
  rate                         numerator                 denominator            cohort
  ===========================  ========================  =====================  ==================
  响应率 ``response_rate``      ``responded_on_time``     ``dispatched`` (due)   reported in period
  解决率 ``resolution_rate``    ``callbacks_solved``      ``callbacks_answered`` reported in period
  满意率 ``satisfaction_rate``  ``callbacks_satisfied``   ``callbacks_answered`` reported in period
  按期办结率 ``on_time_rate``   ``resolved_on_time``      ``cases_due``          due in period
  报到及时率 ``check_in_rate``  ``checked_in_on_time``    ``summons``            due in period
  ===========================  ========================  =====================  ==================

  An empty denominator gives an empty rate (``pd.NA``; exported as an empty cell), never 0. Only
  what was due is judged: ``dispatched`` counts dispatched cases whose response is due (responded,
  or the response deadline passed as of ``as_of``); the others are ``responses_pending`` (进行中).
  报到及时率 counts summons by their outcome (geo.domain.whistles.summons_outcome, from the
  summons, check-in, close and reopen events): on time, late and missed count; a summons whose
  whistle had closed by its due time is excused and one not yet due is pending — neither counts.
- for departments, the whistlers' scores (街道考核部门) over whistles closed in the period: the
  number of scores beside the average of each aspect and of all three (DEPARTMENT_COLUMNS).
- the composite score: ``Σ wᵢ·rateᵢ / Σ wᵢ`` over the three rates (default weights 0.10 / 0.45 /
  0.45). It is empty when any rate with a positive weight is empty: a boundary without callbacks
  has not been assessed, and renormalising over the rates it happens to have would rank it
  above boundaries that were (a grid with one on-time response would score 100 %).
- ``rank`` within the level (1 = best, ties share the lowest rank — "min" ranking; an empty
  score gets no rank) and ``rank_in_parent`` among the boundaries sharing a parent.

>>> sums = pd.DataFrame({"code": ["a", "b"], "name": ["A", "B"], "parent_code": ["p", "p"],
...                      "cases_total": [2, 0], "dispatched": [2, 0], "responded_on_time": [1, 0]})
>>> finish(sums)["response_rate"].tolist()
[0.5, <NA>]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from geo.domain.statuses import NUMBERS, STATES, WAITING
from geo.domain.whistles import COUNTED, SCORE_ASPECTS, summons_outcome

__all__ = [
    "CASE_STATUSES",
    "COLUMNS",
    "DEPARTMENT_COLUMNS",
    "LEVELS",
    "LEVEL_COLUMN",
    "RATES",
    "REPEAT_DAYS",
    "REPEAT_RADIUS_M",
    "TIMEZONE",
    "Weights",
    "aggregate_facts",
    "category_column",
    "check_in_sums",
    "definitions",
    "finish",
    "headers",
    "overdue_flags",
    "period_bounds",
    "rank",
    "rates",
    "repeat_flags",
    "score",
    "score_sums",
    "summons_outcomes",
    "sums_from_records",
]

LEVELS = ("district", "street", "community", "grid")
LEVEL_COLUMN = {level: f"{level}_code" for level in LEVELS}
TIMEZONE = "Asia/Shanghai"

#: Repeat complaints (重复投诉): same category, at most this far apart and this many days apart.
REPEAT_RADIUS_M = 50.0
REPEAT_DAYS = 30

#: Lifecycle states in workflow order with their Chinese names (the vocabulary's, not a copy).
CASE_STATUSES = STATES

#: (rate, numerator, denominator)
RATES = (
    ("response_rate", "responded_on_time", "dispatched"),
    ("resolution_rate", "callbacks_solved", "callbacks_answered"),
    ("satisfaction_rate", "callbacks_satisfied", "callbacks_answered"),
    ("on_time_rate", "resolved_on_time", "cases_due"),
    ("check_in_rate", "checked_in_on_time", "summons"),
)

#: The sums storage provides per boundary (besides code, name, parent_code and category_* counts).
SUM_COLUMNS = (
    "cases_total", "dispatched", "responses_pending", "responded_on_time", "callbacks_answered", "callbacks_solved",
    "callbacks_satisfied", "cases_due", "resolved_on_time", "summons", "checked_in_on_time",
    "overdue", "repeat_cases", *(f"status_{s}" for s in CASE_STATUSES),
)
MEDIAN_COLUMNS = ("median_hours_to_respond", "median_hours_to_resolve")

#: Export order and Chinese headers. The frame also carries one ``category_<code>`` count per
#: category after these (categories are data); ``headers`` names them.
COLUMNS: dict[str, str] = {
    "code": "编码",
    "name": "名称",
    "parent_code": "上级编码",
    "cases_total": "案件数",
    "responded_on_time": "按时响应数",
    "dispatched": "应响应数",
    "response_rate": "响应率",
    "responses_pending": "响应进行中",
    "callbacks_answered": "回访应答数",
    "callbacks_solved": "回访已解决数",
    "resolution_rate": "解决率",
    "callbacks_satisfied": "回访满意数",
    "satisfaction_rate": "满意率",
    "score": "综合得分",
    "rank": "排名",
    "rank_in_parent": "上级内排名",
    "ranked": "参与排名（案件数达到下限）",
    "resolved_on_time": "按期办结数",
    "cases_due": "到期案件数",
    "on_time_rate": "按期办结率",
    "checked_in_on_time": "按时报到数",
    "summons": "召集部门次数",
    "check_in_rate": "报到及时率",
    "median_hours_to_respond": "响应时长中位数（小时）",
    "median_hours_to_resolve": "办结时长中位数（小时）",
    "overdue": "超期案件数",
    "repeat_cases": "重复投诉数",
    **{f"status_{s}": f"状态：{name}" for s, name in CASE_STATUSES.items()},
}

#: Department measures only: the whistlers' scores (街道考核部门), the count beside the averages.
DEPARTMENT_COLUMNS: dict[str, str] = {
    "whistles_scored": "吹哨评分次数",
    "whistle_score": "吹哨评分（三项平均）",
    **{f"{aspect}_score": f"{name}评分（平均）" for aspect, name in SCORE_ASPECTS.items()},
}

_SCORE_DECIMALS = 12  # scores equal on paper may differ in the last float bit; they must tie


@dataclass(frozen=True)
class Weights:
    """Weights of the composite score: response, resolution, satisfaction (default 0.10/0.45/0.45)."""

    response: float = 0.10
    resolution: float = 0.45
    satisfaction: float = 0.45

    def __post_init__(self) -> None:
        values = (self.response, self.resolution, self.satisfaction)
        if any(not np.isfinite(v) or v < 0 for v in values) or sum(values) <= 0:
            raise ValueError(f"weights must be finite, ≥ 0 and not all 0, got {values}")

    @classmethod
    def of(cls, value: Weights | Mapping[str, float] | None) -> Weights:
        if value is None:
            return cls()
        if isinstance(value, Weights):
            return value
        unknown = set(value) - {"response", "resolution", "satisfaction"}
        if unknown:
            raise ValueError(f"unknown weight(s) {sorted(unknown)}: use response, resolution, satisfaction")
        return cls(**{k: float(v) for k, v in value.items()})

    def by_rate(self) -> dict[str, float]:
        return {"response_rate": self.response, "resolution_rate": self.resolution,
                "satisfaction_rate": self.satisfaction}


def category_column(code: str) -> str:
    return f"category_{code}"


def headers(columns: list[str] | pd.Index, category_names: Mapping[str, str] | None = None) -> dict[str, str]:
    """Chinese headers for these columns (COLUMNS, plus ``category_<code>`` → 分类：<name>).

    >>> headers(["code", "category_0101"], {"0101": "暴露垃圾"})
    {'code': '编码', 'category_0101': '分类：暴露垃圾'}
    """
    names = category_names or {}
    out = {}
    for column in columns:
        if column in COLUMNS or column in DEPARTMENT_COLUMNS:
            out[column] = COLUMNS.get(column) or DEPARTMENT_COLUMNS[column]
        elif column.startswith("category_"):
            code = column.removeprefix("category_")
            out[column] = f"分类：{names.get(code, code)}"
        elif column in ("month",):
            out[column] = "月份"
        else:
            out[column] = column
    return out


# --- periods --------------------------------------------------------------------------------


def period_bounds(date_from: date | None, date_to: date | None,
                  timezone: str = TIMEZONE) -> tuple[datetime | None, datetime | None]:
    """Inclusive local dates → a half-open instant range [start, end) (None = unbounded).

    >>> period_bounds(date(2026, 3, 1), date(2026, 3, 31))[1].isoformat()
    '2026-04-01T00:00:00+08:00'
    """
    tz = ZoneInfo(timezone)
    if date_from and date_to and date_to < date_from:
        raise ValueError(f"date_to {date_to} is before date_from {date_from}")
    start = datetime.combine(date_from, time(0), tz) if date_from else None
    end = datetime.combine(date_to + timedelta(days=1), time(0), tz) if date_to else None
    return start, end


# --- from sums to rates, score, rank ---------------------------------------------------------


def rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Add each rate beside its numerator and denominator; an empty denominator → pd.NA."""
    out = frame.copy()
    for rate, numerator, denominator in RATES:
        if numerator not in out or denominator not in out:
            continue
        num = out[numerator].astype("Float64")
        den = out[denominator].astype("Float64")
        out[rate] = (num / den.where(den > 0)).astype("Float64")  # 0 / 0 and n / 0 → NA
    return out


def score(frame: pd.DataFrame, weights: Weights | Mapping[str, float] | None = None) -> pd.Series:
    """Σ wᵢ·rateᵢ / Σ wᵢ over the three rates; empty when a rate with a positive weight is empty.

    >>> f = pd.DataFrame({"response_rate": [1.0, 0.5], "resolution_rate": [0.5, pd.NA],
    ...                   "satisfaction_rate": [0.5, 1.0]}).astype("Float64")
    >>> score(f).round(3).tolist()
    [0.55, <NA>]
    """
    w = Weights.of(weights).by_rate()
    used = {rate: weight for rate, weight in w.items() if weight > 0}
    total = sum(used.values())
    result = pd.Series(0.0, index=frame.index, dtype="Float64")
    for rate, weight in used.items():
        result = result + frame[rate].astype("Float64") * (weight / total)
    return result  # NA propagates: any empty weighted rate empties the score


def rank(scores: pd.Series, groups: pd.Series | None = None) -> pd.Series:
    """1 = the highest score; equal scores share the lowest rank ("min"); empty scores get none.

    >>> rank(pd.Series([0.9, 0.5, 0.9, None], dtype="Float64")).tolist()
    [1, 3, 1, <NA>]
    """
    values = scores.astype("Float64").round(_SCORE_DECIMALS).astype("float64")  # NA → NaN, left unranked
    if groups is None:
        ranked = values.rank(method="min", ascending=False, na_option="keep")
    else:
        ranked = values.groupby(groups.fillna("").to_numpy()).rank(method="min", ascending=False, na_option="keep")
    return ranked.astype("Int64")


def finish(sums: pd.DataFrame, weights: Weights | Mapping[str, float] | None = None, *,
           min_cases: int = 0, departments: bool = False) -> pd.DataFrame:
    """Sums per boundary (code, name, parent_code, the SUM_COLUMNS, medians, category_*) → the
    measures frame in COLUMNS order: rates, score, rank, rank within the parent. A boundary with
    fewer than ``min_cases`` cases keeps its rates and score but is not ranked (``ranked`` false):
    a grid with one satisfied case is no better than one with a hundred. ``departments``: the
    DEPARTMENT_COLUMNS (score_sums) follow COLUMNS."""
    out = sums.copy()
    for column in SUM_COLUMNS:
        out[column] = out[column].fillna(0).astype("int64") if column in out else 0
    for column in MEDIAN_COLUMNS:
        out[column] = out[column].astype("Float64") if column in out else pd.Series(pd.NA, index=out.index,
                                                                                     dtype="Float64")
    out = rates(out)
    out["score"] = score(out, weights)
    out["ranked"] = out["cases_total"] >= min_cases
    rankable = out["score"].where(out["ranked"])
    out["rank"] = rank(rankable)
    out["rank_in_parent"] = rank(rankable, out["parent_code"])
    categories = sorted(c for c in out.columns if c.startswith("category_"))
    for column in categories:
        out[column] = out[column].fillna(0).astype("int64")
    extra = list(DEPARTMENT_COLUMNS) if departments else []
    for column in extra:
        if column == "whistles_scored":
            out[column] = out[column].fillna(0).astype("int64") if column in out else 0
        else:
            out[column] = out[column].astype("Float64") if column in out else pd.Series(
                pd.NA, index=out.index, dtype="Float64")
    return out.loc[:, [*COLUMNS, *extra, *categories]].reset_index(drop=True)


# --- whistles: check-ins by outcome, the whistlers' scores ---------------------------------------


def summons_outcomes(summons: pd.DataFrame, history: Mapping[int, list[tuple[datetime, str]]],
                     as_of: datetime) -> pd.Series:
    """Each summons' outcome (geo.domain.whistles.OUTCOMES): ``summons`` has whistle_id, due_at and
    checked_in_at (the first check-in; NaT when none), ``history`` each whistle's close and reopen
    events as (time, action).

    >>> from datetime import UTC
    >>> due = pd.Timestamp("2026-03-10 03:30", tz=UTC)
    >>> rows = pd.DataFrame({"whistle_id": [1, 1], "due_at": [due, due],
    ...                      "checked_in_at": [due - pd.Timedelta(minutes=5), pd.NaT]})
    >>> summons_outcomes(rows, {}, due + pd.Timedelta(hours=1)).tolist()
    ['on_time', 'missed']
    """
    def outcome(row: Any) -> str:
        checked = None if pd.isna(row.checked_in_at) else row.checked_in_at
        return summons_outcome(row.due_at, checked, history.get(int(row.whistle_id), []), as_of=as_of)

    return pd.Series([outcome(r) for r in summons.itertuples(index=False)], index=summons.index, dtype=object)


def check_in_sums(summons: pd.DataFrame) -> pd.DataFrame:
    """Summons (code, outcome; one row per summons and boundary or department) → per code:
    ``summons`` (those counted: on time, late, missed) and ``checked_in_on_time``.

    >>> check_in_sums(pd.DataFrame({"code": ["a", "a", "a"], "outcome": ["on_time", "excused", "missed"]}))
      code  summons  checked_in_on_time
    0    a        2                   1
    """
    counted = summons[summons["outcome"].isin(COUNTED)]
    frame = pd.DataFrame({"summons": counted.groupby("code").size(),
                          "checked_in_on_time": counted[counted["outcome"] == "on_time"].groupby("code").size()})
    return frame.fillna(0).astype("int64").rename_axis("code").reset_index()


def score_sums(scores: pd.DataFrame) -> pd.DataFrame:
    """The whistlers' scores (code, one column per aspect of SCORE_ASPECTS; one row per department,
    whistle and round) → per code: ``whistles_scored``, the average of each aspect
    (``<aspect>_score``) and of all three (``whistle_score``).

    >>> score_sums(pd.DataFrame({"code": ["GA", "GA"], "arrival": [5, 3], "cooperation": [4, 4],
    ...                          "result": [3, 5]}))[["code", "whistles_scored", "whistle_score"]]
      code  whistles_scored  whistle_score
    0   GA                2            4.0
    """
    aspects = list(SCORE_ASPECTS)
    frame = scores.assign(whistle=scores[aspects].mean(axis=1)).groupby("code")
    out = pd.DataFrame({"whistles_scored": frame.size().astype("int64"), "whistle_score": frame["whistle"].mean(),
                        **{f"{a}_score": frame[a].mean() for a in aspects}})
    return out.rename_axis("code").reset_index()


# --- per-case records (as storage streams them) → sums, in numpy ---------------------------------

#: Bits of a case's period-independent flags (storage packs them with status and category).
STATIC_BITS = ("dispatched", "responded_on_time", "answered", "solved", "satisfied", "repeat", "resolved_on_time",
               "responded")
STATUS_SHIFT, CATEGORY_SHIFT = 8, 16


def _group_medians(groups: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of ``values`` per group (NaN values ignored; NaN for a group without values), as
    PostgreSQL's percentile_cont(0.5) computes it."""
    keep = ~np.isnan(values)
    g, v = groups[keep], values[keep]
    out = np.full(n_groups, np.nan)
    if not len(v):
        return out
    # One sort on group + value scaled into [0, 0.5): a third of a two-key lexsort's time.
    low_v, span = v.min(), float(v.max() - v.min()) or 1.0
    order = np.argsort(g + (v - low_v) / span * 0.5)
    v = v[order]
    counts = np.bincount(g, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    has = counts > 0
    low = starts[has] + (counts[has] - 1) // 2
    high = starts[has] + counts[has] // 2
    out[has] = (v[low] + v[high]) / 2
    return out


def _epoch(value: datetime | None, default: float) -> float:
    return default if value is None else value.timestamp()


def sums_from_records(records: Mapping[str, np.ndarray], key: str, *, start: datetime | None,
                      end: datetime | None, as_of: datetime, categories: list[str]) -> pd.DataFrame:
    """Per-case records → one row of sums per distinct ``records[key]`` (the columns of SUM_COLUMNS,
    the medians and a ``category_<code>`` count per category).

    ``records`` holds equal-length arrays: the key, ``static`` (STATIC_BITS, the status's number
    (geo.domain.statuses.NUMBERS) << STATUS_SHIFT, the category code as a number << CATEGORY_SHIFT),
    ``reported_at``, ``resolve_due`` and ``overdue_since`` (epoch seconds, NaN when absent; the
    last is when the step the case waits for in its current status ran out of time, the rule of
    overdue_flags) and ``respond_h``, ``resolve_h`` (hours from the clock to the first response and
    to the standing resolution). Cohorts as in aggregate_facts.
    """
    lo, hi, now = _epoch(start, -np.inf), _epoch(end, np.inf), as_of.timestamp()
    static = records["static"].astype("int64")
    bits = {name: ((static >> i) & 1).astype(bool) for i, name in enumerate(STATIC_BITS)}
    status = (static >> STATUS_SHIFT) & 0xFF
    category = static >> CATEGORY_SHIFT
    reported, resolve_due = records["reported_at"], records["resolve_due"]
    with np.errstate(invalid="ignore"):
        p = (reported >= lo) & (reported < hi)
        d = (resolve_due >= lo) & (resolve_due < hi) & (resolve_due <= now)
        overdue = records["overdue_since"] < now
    groups, keys = pd.factorize(records[key], sort=True)  # hashing: faster than np.unique's sort
    groups, n = groups.astype("int64"), len(keys)

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(groups[mask], minlength=n).astype("int64")

    out: dict[str, Any] = {"key": keys, "cases_total": count(p)}
    with np.errstate(invalid="ignore"):
        response_due = bits["responded"] | (records["respond_due"] <= now)
    out["dispatched"] = count(p & bits["dispatched"] & response_due)
    out["responses_pending"] = count(p & bits["dispatched"] & ~response_due)
    for column, bit in (("responded_on_time", "responded_on_time"),
                        ("callbacks_answered", "answered"), ("callbacks_solved", "solved"),
                        ("callbacks_satisfied", "satisfied"), ("repeat_cases", "repeat")):
        out[column] = count(p & bits[bit])
    out["overdue"] = count(p & overdue)
    out["cases_due"] = count(d)
    out["resolved_on_time"] = count(d & bits["resolved_on_time"])
    width = max(NUMBERS.values()) + 1
    by_status = np.bincount(groups[p] * width + np.where(status[p] < width, status[p], 0),
                            minlength=n * width).reshape(n, width)
    for name, number in NUMBERS.items():
        out[f"status_{name}"] = by_status[:, number].astype("int64")
    codes = np.array(sorted(int(c) for c in categories), dtype="int64")
    slot = np.searchsorted(codes, category[p]) if len(codes) else np.zeros(int(p.sum()), dtype="int64")
    known = (slot < len(codes)) & (codes[np.minimum(slot, max(len(codes) - 1, 0))] == category[p]) if len(codes) \
        else np.zeros(len(slot), dtype=bool)
    width = len(codes) + 1
    by_category = np.bincount(groups[p] * width + np.where(known, slot + 1, 0), minlength=n * width).reshape(n, width)
    for i, code in enumerate(sorted(categories, key=int), start=1):
        out[category_column(code)] = by_category[:, i].astype("int64")
    out["median_hours_to_respond"] = _group_medians(groups, np.where(p, records["respond_h"], np.nan), n)
    out["median_hours_to_resolve"] = _group_medians(groups, np.where(p, records["resolve_h"], np.nan), n)
    return pd.DataFrame(out)


# --- the reference implementation: facts → sums, in pandas ------------------------------------


def overdue_flags(facts: pd.DataFrame, as_of: datetime) -> pd.Series:
    """A case is overdue (超期) when the clock of the step it waits for ran out before ``as_of``
    (the rule of geo.domain.statuses)."""
    status = facts["status"]
    late = pd.Series(False, index=facts.index)
    for step, waiting in WAITING.items():
        late |= (status.isin(waiting) & (facts[f"{step}_due"] < as_of)).fillna(False).astype(bool)
    return late


def _between(values: pd.Series, start: datetime | None, end: datetime | None) -> pd.Series:
    inside = values.notna()
    if start is not None:
        inside &= values >= start
    if end is not None:
        inside &= values < end
    return inside.fillna(False).astype(bool)


def aggregate_facts(facts: pd.DataFrame, key: str, *, start: datetime | None = None, end: datetime | None = None,
                    as_of: datetime, summons: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-case facts (the columns of case_fact) → one row of sums per value of ``key``.

    Cohorts: cases *reported* in [start, end) for counts, response, callbacks, medians, overdue and
    repeats; cases whose resolve deadline fell in [start, end) and before ``as_of`` for 按期办结率.
    ``summons`` (code, due_at, outcome: one row per summons and boundary) gives 报到及时率 for
    summons due in the period (check_in_sums). sums_from_records computes the same sums from storage's
    per-case records (a test checks they agree).
    """
    f = facts.copy()
    p = _between(f["reported_at"], start, end)
    d = _between(f["resolve_due"], start, end) & (f["resolve_due"] <= as_of).fillna(False).astype(bool)
    f["p"], f["d"] = p, d
    responded = f["responded_at"].notna()
    response_due = responded | (f["respond_due"] <= as_of).fillna(False).astype(bool)
    f["dispatched_"] = p & f["dispatched_at"].notna() & response_due
    f["pending_"] = p & f["dispatched_at"].notna() & ~response_due
    f["responded_on_time_"] = p & (f["responded_at"] <= f["respond_clock_due"]).fillna(False).astype(bool)
    contacted = f["callback_contacted"].fillna(False).astype(bool)
    f["answered_"] = p & contacted
    f["solved_"] = f["answered_"] & f["callback_solved"].fillna(False).astype(bool)
    f["satisfied_"] = f["answered_"] & f["callback_satisfied"].fillna(False).astype(bool)
    f["resolved_on_time_"] = d & (f["resolved_at"] <= f["resolve_due"]).fillna(False).astype(bool)
    f["overdue_"] = p & overdue_flags(f, as_of)
    f["repeat_"] = p & f["is_repeat"].astype(bool)
    f["respond_h"] = ((f["responded_at"] - f["respond_clock_at"]).dt.total_seconds() / 3600).where(p)
    f["resolve_h"] = ((f["resolved_at"] - f["clock_at"]).dt.total_seconds() / 3600).where(p)
    for s in CASE_STATUSES:
        f[f"status_{s}"] = p & (f["status"] == s)
    for c in sorted(f["category_code"].dropna().unique()):
        f[category_column(c)] = p & (f["category_code"] == c)
    groups = f.groupby(key, sort=True)
    counts = {
        "cases_total": "p", "dispatched": "dispatched_", "responses_pending": "pending_",
        "responded_on_time": "responded_on_time_",
        "callbacks_answered": "answered_", "callbacks_solved": "solved_", "callbacks_satisfied": "satisfied_",
        "cases_due": "d", "resolved_on_time": "resolved_on_time_", "overdue": "overdue_", "repeat_cases": "repeat_",
        **{c: c for c in f.columns if c.startswith(("status_", "category_"))},
    }
    out = pd.DataFrame({name: groups[column].sum().astype("int64") for name, column in counts.items()})
    out["median_hours_to_respond"] = groups["respond_h"].median()
    out["median_hours_to_resolve"] = groups["resolve_h"].median()
    out["summons"], out["checked_in_on_time"] = 0, 0
    if summons is not None and len(summons):
        sums = check_in_sums(summons[_between(summons["due_at"], start, end)]).set_index("code")
        for column in ("summons", "checked_in_on_time"):
            out[column] = sums[column].reindex(out.index).fillna(0).astype("int64")
    return out.rename_axis("code").reset_index()


def repeat_flags(category: Any, reported_at: Any, x: Any, y: Any, *, radius_m: float = REPEAT_RADIUS_M,
                 days: float = REPEAT_DAYS, ids: Any = None) -> np.ndarray:
    """True for each case that repeats an earlier one: the same category, at most ``radius_m`` apart
    (x, y in metres) and reported at most ``days`` after it. Of two such cases the later one is the
    repeat (order: reported_at, then id); the first complaint of a cluster is never a repeat.

    Linear in the cases plus the close-in-time neighbours: cases are sorted by (category, cell of
    ``radius_m``, time), and each looks only at the earlier cases of the 3 × 3 cells around it
    reported within ``days`` before it (a binary search per cell), never at every pair sharing a
    cell — a year of tickets piled on one address costs its 30-day neighbours, not its square.

    >>> import pandas as pd
    >>> t = pd.to_datetime(["2026-03-01", "2026-03-10", "2026-05-01"], utc=True)
    >>> repeat_flags(["0101"] * 3, t, [0, 30, 30], [0, 0, 0]).tolist()
    [False, True, False]
    """
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(xs)
    flags = np.zeros(n, dtype=bool)
    if n < 2:
        return flags
    cats = pd.factorize(pd.Series(np.asarray(category, dtype=object)))[0].astype(np.int64)
    t_us = pd.to_datetime(pd.Series(reported_at), utc=True).dt.as_unit("us").astype("int64").to_numpy()
    ident = np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
    cx, cy = np.floor(xs / radius_m).astype(np.int64), np.floor(ys / radius_m).astype(np.int64)
    # One int64 per (category, cell), with a margin of one cell so a neighbour never wraps around.
    cx, cy = cx - cx.min() + 1, cy - cy.min() + 1
    width, height = int(cx.max()) + 2, int(cy.max()) + 2
    if (int(cats.max()) + 1) * width * height >= 2**62:
        raise ValueError("the points span too many cells for one key: are x, y in metres?")
    cell = (cats * width + cx) * height + cy
    order = np.lexsort((ident, t_us, cell))
    cell_s, t_s, id_s = cell[order], t_us[order], ident[order]
    cells, starts = np.unique(cell_s, return_index=True)
    block = np.repeat(np.arange(len(cells), dtype=np.int64), np.diff(np.append(starts, n)))
    # Within a block, times are sorted: a search key of block and whole seconds is sorted too.
    sec = t_s // 1_000_000 - t_s.min() // 1_000_000
    window_s = int(days * 86_400)
    span = int(sec.max()) + window_s + 3
    search = block * span + sec
    window_us = int(days * 86_400 * 1_000_000)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            wanted = cell_s + dx * height + dy
            at = np.minimum(np.searchsorted(cells, wanted), len(cells) - 1)
            has = np.flatnonzero(cells[at] == wanted)
            if not has.size:
                continue
            base = at[has] * span
            lo = np.searchsorted(search, base + np.maximum(sec[has] - window_s - 1, 0), side="left")
            hi = np.searchsorted(search, base + sec[has] + 1, side="right")
            _mark_close(flags, order, has, lo, hi, xs, ys, t_s, id_s, radius_m, window_us)
    return flags


def definitions(weights: Weights | None = None) -> list[tuple[str, str]]:
    """What each rate and the score mean, as (name, definition) rows for a file's 说明 sheet —
    built from ``RATES`` and ``COLUMNS``, so the words follow the computation.

    >>> definitions()[0]
    ('响应率', '按时响应数 ÷ 应响应数（分母为 0 时为空）')
    >>> definitions()[-1][1]
    '0.1×响应率 + 0.45×解决率 + 0.45×满意率，在同级中排名（并列同名次）'
    """
    w = weights or Weights()
    rows = [(COLUMNS[rate], f"{COLUMNS[numerator]} ÷ {COLUMNS[denominator]}（分母为 0 时为空）")
            for rate, numerator, denominator in RATES]
    rows.append((COLUMNS["score"], f"{w.response:g}×{COLUMNS['response_rate']} + {w.resolution:g}×"
                                   f"{COLUMNS['resolution_rate']} + {w.satisfaction:g}×{COLUMNS['satisfaction_rate']}，"
                                   "在同级中排名（并列同名次）"))
    return rows


def _mark_close(flags: np.ndarray, order: np.ndarray, who: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                xs: np.ndarray, ys: np.ndarray, t_s: np.ndarray, id_s: np.ndarray, radius_m: float,
                window_us: int, chunk: int = 4_000_000) -> None:
    """Flag each sorted case ``who[k]`` that has, among the sorted cases lo[k]:hi[k] (a superset
    of its earlier neighbours in time), one close enough, earlier (time, then id) and in the window."""
    counts = hi - lo
    keep = counts > 0
    who, lo, counts = who[keep], lo[keep], counts[keep]
    ends = np.cumsum(counts)
    begin = 0
    while begin < len(who):  # pairs in chunks, so memory stays bounded on dense data
        stop = int(np.searchsorted(ends, (ends[begin - 1] if begin else 0) + chunk, side="right"))
        stop = max(stop, begin + 1)
        c = counts[begin:stop]
        me = np.repeat(who[begin:stop], c)
        offset = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
        other = np.repeat(lo[begin:stop], c) + offset
        a, b = order[me], order[other]
        gap = t_s[me] - t_s[other]
        hit = (((gap > 0) | ((gap == 0) & (id_s[me] > id_s[other]))) & (gap <= window_us)
               & ((xs[a] - xs[b]) ** 2 + (ys[a] - ys[b]) ** 2 <= radius_m ** 2))
        flags[a[hit]] = True
        begin = stop
