"""The case status vocabulary (案件状态): every status, its Chinese name, its stable number, and
the groups the rest of gridmap asks about. The one home of these words.

SQL fragments (geo.store.vocabulary), the statistics record (geo.domain.stats), the map legend
and filters (the page's options JSON) all derive from here; tests/test_one_home.py fails when
a second definition of a status group or a status label appears elsewhere.

What counts as overdue (超期): a case waits for one or more clocks (派遣, 联系, 办结) according
to its status, and is overdue when any of them has run out.

>>> label("returned")
'已退回'
>>> waiting_for("signed")
('respond', 'resolve')
>>> from datetime import datetime, UTC
>>> due = {"dispatch": None, "respond": datetime(2026, 1, 2, tzinfo=UTC), "resolve": datetime(2026, 1, 9, tzinfo=UTC)}
>>> overdue_step("signed", due, now=datetime(2026, 1, 3, tzinfo=UTC))
'respond'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "CLOCK_STEPS",
    "COLOURS",
    "FINISHED",
    "GROUPS",
    "INITIAL_STATUS",
    "LEGEND",
    "NUMBERS",
    "OPEN",
    "STATES",
    "STATUSES",
    "STEP_NAMES",
    "TERMINAL",
    "UNFINISHED",
    "WAITING",
    "Status",
    "clock_notes",
    "label",
    "next_due",
    "overdue_by",
    "overdue_step",
    "waiting_for",
]


@dataclass(frozen=True)
class Status:
    code: str
    label: str
    #: Stable number in the packed statistics record (case_fact.record): never reuse or renumber.
    number: int
    #: The map marker's colour (the legend pairs it with ``label``).
    colour: str
    #: The clocks (steps) a case in this status waits for, in workflow order.
    waits_for: tuple[str, ...] = ()


#: In workflow order. ``number`` is frozen by migration 0015 (tests/test_one_home.py pins it).
STATUSES: tuple[Status, ...] = (
    Status("received", "已受理", 1, "#9e9e9e", ("dispatch",)),
    Status("dispatched", "已派遣", 2, "#1e88e5", ("respond", "resolve")),
    Status("signed", "已签收", 3, "#3949ab", ("respond", "resolve")),
    Status("responded", "已联系", 4, "#5e35b1", ("resolve",)),
    Status("in_progress", "处置中", 5, "#fb8c00", ("resolve",)),
    Status("resolved", "已办结", 6, "#43a047"),
    Status("checked", "已核查", 7, "#2e7d32"),
    Status("closed", "已结案", 8, "#1b5e20"),
    Status("returned", "已退回", 9, "#6d4c41", ("resolve",)),
    Status("suspended", "已挂账", 10, "#546e7a", ("resolve",)),
    Status("void", "不予立案", 11, "#bdbdbd"),
)
_BY_CODE = {s.code: s for s in STATUSES}

#: Every case starts here (受理).
INITIAL_STATUS = STATUSES[0].code
#: The statuses the map legend shows (the others share their colours' families).
LEGEND: tuple[str, ...] = ("received", "dispatched", "in_progress", "resolved", "closed")
#: code → Chinese name, in workflow order.
STATES: dict[str, str] = {s.code: s.label for s in STATUSES}
#: code → marker colour.
COLOURS: dict[str, str] = {s.code: s.colour for s in STATUSES}
#: code → record number.
NUMBERS: dict[str, int] = {s.code: s.number for s in STATUSES}
#: The steps whose clocks can run out (columns ``<step>_due`` on a case).
CLOCK_STEPS = ("dispatch", "respond", "resolve")
#: step → the word people use for it in a deadline (派遣超期 3 天 / 距办结时限 5 小时).
STEP_NAMES: dict[str, str] = {"dispatch": "派遣", "respond": "响应", "resolve": "办结"}
#: Spans as people say them: days from one day up, hours from one hour up, else minutes.
_SPAN_UNITS = ((86400, "天"), (3600, "小时"), (60, "分钟"))

#: Statuses nothing more happens in: closed (结案) and void (不予立案).
TERMINAL: tuple[str, ...] = ("closed", "void")
#: Every status but the terminal ones.
OPEN: tuple[str, ...] = tuple(s.code for s in STATUSES if s.code not in TERMINAL)
#: The department's work is done (办结 and after): resolved, checked, closed.
FINISHED: tuple[str, ...] = ("resolved", "checked", "closed")
#: Still being worked on (a whistle can summon departments to it): open and not yet resolved.
UNFINISHED: tuple[str, ...] = tuple(s for s in OPEN if s not in FINISHED)
#: step → the statuses waiting for that step's clock.
WAITING: dict[str, tuple[str, ...]] = {
    step: tuple(s.code for s in STATUSES if step in s.waits_for) for step in CLOCK_STEPS
}
#: Status groups a reader may filter by (map filter, Open311, hotspots).
GROUPS: dict[str, tuple[str, ...]] = {
    "all": tuple(s.code for s in STATUSES if s.code != "void"),
    "open": OPEN,
    "closed": ("closed",),
}


def label(code: str) -> str:
    """The Chinese name of a status (the code itself when unknown, so old data still shows)."""
    status = _BY_CODE.get(code)
    return status.label if status else code


def waiting_for(code: str) -> tuple[str, ...]:
    """The steps a case in status ``code`` waits for."""
    status = _BY_CODE.get(code)
    return status.waits_for if status else ()


def next_due(code: str, due: Mapping[str, datetime | None]) -> datetime | None:
    """The earliest deadline among the clocks status ``code`` waits for (None: no clock runs)."""
    times = [t for t in (due.get(step) for step in waiting_for(code)) if t is not None]
    return min(times) if times else None


def overdue_step(code: str, due: Mapping[str, datetime | None], *, now: datetime) -> str | None:
    """The furthest step whose clock has run out for a case in status ``code`` (None: not overdue):
    a case late for both contact and resolution is shown as late for resolution."""
    late = [step for step in waiting_for(code) if (t := due.get(step)) is not None and t < now]
    return late[-1] if late else None


def _span(seconds: float) -> str:
    """A span in the largest whole unit: 3 天, 5 小时, 12 分钟 (never 0: under a minute is 1 分钟)."""
    for size, unit in _SPAN_UNITS:
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return "1 分钟"


def clock_notes(code: str, due: Mapping[str, datetime | None], *, now: datetime) -> dict[str, str]:
    """How each running clock of a case in status ``code`` stands, in the words the panel and the
    list show: "派遣超期 3 天" when it ran out, "距办结时限 5 小时" while it runs. Steps the status
    no longer waits for (done) or without a deadline are left out. The one home of this wording.

    >>> from datetime import UTC
    >>> now = datetime(2026, 1, 10, 12, tzinfo=UTC)
    >>> clock_notes("dispatched", {"dispatch": datetime(2026, 1, 7, 11, tzinfo=UTC),
    ...             "respond": datetime(2026, 1, 10, 13, 30, tzinfo=UTC), "resolve": None}, now=now)
    {'respond': '距响应时限 1 小时'}
    >>> clock_notes("received", {"dispatch": datetime(2026, 1, 7, 11, tzinfo=UTC)}, now=now)
    {'dispatch': '派遣超期 3 天'}
    """
    notes = {}
    for step in waiting_for(code):
        when = due.get(step)
        if when is None:
            continue
        left = (when - now).total_seconds()
        name = STEP_NAMES[step]
        notes[step] = f"{name}超期 {_span(-left)}" if left < 0 else f"距{name}时限 {_span(left)}"
    return notes


def overdue_by(code: str, due: Mapping[str, datetime | None], *, now: datetime) -> float | None:
    """How long (seconds) the earliest clock status ``code`` waits for has run out (None: not overdue).
    A case is overdue exactly when this is a number (its earliest waited clock has passed).

    >>> from datetime import UTC
    >>> overdue_by("received", {"dispatch": datetime(2026, 1, 1, tzinfo=UTC)}, now=datetime(2026, 1, 2, tzinfo=UTC))
    86400.0
    """
    first = next_due(code, due)
    return (now - first).total_seconds() if first is not None and first < now else None
