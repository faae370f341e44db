"""The options JSON the pages carry (``<script type="application/json" id="gm-options">``).

Every label, limit and vocabulary the browser modules (``static/js/``) show comes from here, and
here only derives it from its one home: settings (``webmap.config``), the status vocabulary
(``geo.domain.statuses``), the workflow's actions and roles, the boundary levels, the measures.
The JavaScript holds none of them typed in (tests/test_front_end.py checks).

>>> len(status_filters())  # 待派遣, 处置中, 待结案, 已结案: every open or closed status once
4
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from geo.domain.boundaries import LEVEL_NAMES
from geo.domain.cases import DESCRIPTION_MAX
from geo.domain.deadlines import URGENCY_NAMES
from geo.domain.errors import Forbidden
from geo.domain.filters import SORTS
from geo.domain.getis_ord import CLASSES
from geo.domain.permissions import User, check_can_report, may_plan_topics, statistics_area
from geo.domain.requesters import REQUEST_TYPES
from geo.domain.stats import COLUMNS, DEPARTMENT_COLUMNS, LEVELS, RATES
from geo.domain.statuses import (
    CLOCK_STEPS,
    COLOURS,
    FINISHED,
    GROUPS,
    LEGEND,
    OPEN,
    STATES,
    TERMINAL,
    UNFINISHED,
    label,
)
from geo.domain.topics import EVENT_ACTIONS, EXPORT_COLUMNS, RATE_NAMES, STATUSES, TEXT_MAX, TITLE_MAX
from geo.domain.whistles import EVENTS as WHISTLE_EVENTS
from geo.domain.whistles import OUTCOMES, REASONS, SCORE_ASPECTS, SCORE_MAX, SCORE_MIN, STATUS_NAMES
from geo.domain.workflow import ACTIONS, ROLE_NAMES
from webmap.config import photo_max_bytes

__all__ = ["map_options", "stats_options", "status_filters", "topics_options"]

#: Timeline words for the events that are not workflow actions (the whistle's from its vocabulary).
OTHER_EVENTS = {"receive": "受理", "photo": "上传照片", **WHISTLE_EVENTS}
#: The levels a thematic choropleth can colour, finest last.
THEME_LEVELS = ("street", "community", "grid")
#: The measures a thematic choropleth can show, in the order offered.
THEME_MEASURES = ("cases_total", "response_rate", "resolution_rate", "satisfaction_rate", "score", "on_time_rate",
                  "overdue", "repeat_cases")
#: The rates the statistics page's trend chart draws.
TREND_SERIES = ("response_rate", "resolution_rate", "satisfaction_rate")
#: The topics page's table: what each topic is, before its figures.
TOPIC_COLUMNS = ("title", "month", "category_code", "targets", "lead_department", "status")
_RATE_NAMES = {rate for rate, _, _ in RATES} | {"score"}



def status_filters() -> list[tuple[str, str]]:
    """The map's status filter as (comma-joined statuses, Chinese name): where a case waits."""
    to_dispatch = ACTIONS["dispatch"].from_states
    to_close = tuple(s for s in FINISHED if s not in TERMINAL)
    in_work = tuple(s for s in OPEN if s not in to_dispatch + to_close)
    groups = (("待派遣", to_dispatch), (label("in_progress"), in_work), ("待结案", to_close),
              (label("closed"), GROUPS["closed"]))
    return [(",".join(codes), name) for name, codes in groups]


def map_options(config: Mapping[str, Any], user: User, *, streets: list[dict[str, str]],
                folium: dict[str, Any], layers: dict[str, Any], urls: dict[str, str],
                extent: tuple[float, float, float, float] | None,
                home: dict[str, Any] | None = None) -> dict[str, Any]:
    """What static/js/main.js needs: folium's variable names, the API, the vocabulary, the limits, the
    user's own area (``home``: opened on and outlined; its shortcut is named by its level)."""
    return {
        "folium": folium,
        "api": urls["boundaries"],
        "casesApi": urls["cases"],
        "listApi": urls.get("list", ""),
        "searchApi": urls.get("search", ""),
        "home": {**home, "label": "我的" + LEVEL_NAMES.get(home["level"], "范围")} if home else None,
        "sorts": list(SORTS.items()),
        # Each clock is named by the action that stops it (派遣, 办结 …): "派遣超期 3 天" in the list.
        "overdueSteps": {step: ACTIONS[step].label for step in CLOCK_STEPS},
        "extent": list(extent) if extent else None,
        **layers,
        "levelNames": LEVEL_NAMES,
        "statuses": {code: [COLOURS[code], name] for code, name in STATES.items()},
        "legendStatuses": list(LEGEND),
        "statusFilters": status_filters(),
        "events": {name: action.label for name, action in ACTIONS.items()} | OTHER_EVENTS,
        "urgencies": list(URGENCY_NAMES.items()),
        "requestTypes": REQUEST_TYPES,
        "whistleReasons": list(REASONS),
        # The cases a whistle may take (the whistle form offers the street's others).
        "whistleStatuses": list(UNFINISHED),
        "whistle": {
            "statuses": STATUS_NAMES,
            "lists": [["open", f"{STATUS_NAMES['open']}的吹哨"], ["closed", f"{STATUS_NAMES['closed']}的吹哨"],
                      ["all", "全部吹哨"]],
            "summonsStates": OUTCOMES,
            "scoreAspects": list(SCORE_ASPECTS.items()),
            "scoreRange": [SCORE_MIN, SCORE_MAX],
        },
        "roles": ROLE_NAMES,
        "themeLevels": [[level, LEVEL_NAMES[level]] for level in THEME_LEVELS],
        "measures": [[m, COLUMNS[m], m in _RATE_NAMES] for m in THEME_MEASURES],
        "hotspotClasses": [[name, text] for name, _, text in CLASSES],
        "limits": _limits(config),
        "user": {"role": user.role, "scope": user.scope, "department": user.department, "streets": streets,
                 "mayReport": _allowed(lambda: check_can_report(user, user.scope)),
                 "mayReadAreas": _allowed(lambda: statistics_area(user))},
    }


def stats_options() -> dict[str, Any]:
    """What static/js/stats.js needs: each rate's numerator and denominator, each average's count,
    the trend's series."""
    return {
        "rates": {rate: [numerator, denominator] for rate, numerator, denominator in RATES},
        "averages": {column: "whistles_scored" for column in DEPARTMENT_COLUMNS if column != "whistles_scored"},
        "percent": sorted(_RATE_NAMES),
        "trendLevels": list(LEVELS),
        "trendSeries": [[rate, COLUMNS[rate]] for rate in TREND_SERIES],
        "casesLabel": COLUMNS["cases_total"],
    }


def topics_options(user: User, month: str) -> dict[str, Any]:
    """What static/js/topics.js needs: the figures and their names, each rate's numerator and
    denominator, the topic statuses and event words, the form's limits, whether the user may plan."""
    return {
        "columns": [[c, EXPORT_COLUMNS[c]] for c in TOPIC_COLUMNS],
        "texts": [[c, EXPORT_COLUMNS[c]] for c in ("goal", "tasks")],
        "figures": [[c, COLUMNS[c]] for c in ("cases_total", *RATE_NAMES)],
        "rates": {rate: [numerator, denominator] for rate, numerator, denominator in RATES if rate in RATE_NAMES},
        "statuses": STATUSES,
        "events": EVENT_ACTIONS,
        "month": month,
        "mayPlan": may_plan_topics(user),
        "limits": {"titleMax": TITLE_MAX, "textMax": TEXT_MAX},
    }


def _limits(config: Mapping[str, Any]) -> dict[str, float]:
    return {
        "checkInRadiusM": float(config["GRIDMAP_CHECKIN_MAX_M"]),
        "photoMaxMB": float(config["GRIDMAP_PHOTO_MAX_MB"]),
        "photoMaxBytes": photo_max_bytes(config),
        "photosPerCase": int(config["GRIDMAP_PHOTOS_PER_CASE"]),
        "descriptionMax": DESCRIPTION_MAX,
    }


def _allowed(check: Callable[[], object]) -> bool:
    """Whether a permission check passes (the rule stays in geo.domain.permissions)."""
    try:
        check()
    except Forbidden:
        return False
    return True
