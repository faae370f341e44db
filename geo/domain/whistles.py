"""Whistle and report (吹哨报到): the vocabulary and the rules that do not need a database.

A whistle summons departments to one or more unfinished cases; each summoned department must
check in (报到) on site before its due time. The whistle closes when all its cases are resolved
and opens again, as a new *round*, when one goes back to work (事不完、人不撤). After each close
the whistler scores every summoned department 1–5 on arrival, cooperation and result
(街道考核部门), once per round.

A summons' outcome (what 报到及时率 counts), decided from its events:

=============  ===========================================================  =================
outcome        when                                                         counted
=============  ===========================================================  =================
``on_time``    first check-in at or before the due time                     yes, on time
``late``       first check-in after the due time                            yes
``missed``     no check-in, due time passed, the whistle open at that time  yes
``excused``    no check-in by the due time and the whistle closed then      no
``pending``    no check-in and the due time not reached yet                 not yet
=============  ===========================================================  =================

>>> from datetime import datetime, timedelta, UTC
>>> due = datetime(2026, 3, 10, 3, 30, tzinfo=UTC)
>>> closed = [(due - timedelta(minutes=10), CLOSE)]
>>> summons_outcome(due, None, closed, as_of=due + timedelta(hours=1))
'excused'
>>> summons_outcome(due, due + timedelta(minutes=5), [], as_of=due + timedelta(hours=1))
'late'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from geo.domain.errors import InvalidInput

__all__ = [
    "CLOSE",
    "COUNTED",
    "EVENTS",
    "OUTCOMES",
    "REASONS",
    "REOPEN",
    "SCORE_ASPECTS",
    "SCORE_MAX",
    "SCORE_MIN",
    "STATUS_NAMES",
    "WHISTLER_ROLES",
    "check_score",
    "closed_at",
    "summons_outcome",
]

#: Why a whistle is blown (吹哨事由).
REASONS = ("群众诉求", "重点工作", "综合执法", "应急处置")
#: Who may whistle: a street (街道), a community (社区) for its own cases, a department for the cases it leads.
WHISTLER_ROLES = ("street_leader", "community_leader", "department_staff")

#: A whistle's own status (not a case's): open until all its cases are resolved, then closed.
STATUS_NAMES = {"open": "进行中", "closed": "已结束"}

#: The case events a whistle writes (each on every case of the whistle), with their timeline words.
EVENTS = {"whistle": "吹哨", "summons": "召集", "check_in": "报到", "whistle_close": "吹哨结束",
          "whistle_reopen": "吹哨重启", "whistle_score": "吹哨评分"}
CLOSE, REOPEN = "whistle_close", "whistle_reopen"

#: Summons outcomes and their words (the list's and the panel's); COUNTED are in 报到及时率's denominator.
OUTCOMES = {"on_time": "按时报到", "late": "迟到", "missed": "未报到（已超时）", "excused": "免计（吹哨已先结束）",
            "pending": "待报到"}
COUNTED = ("on_time", "late", "missed")

#: What the whistler scores each summoned department on (街道考核部门), each SCORE_MIN–SCORE_MAX.
SCORE_ASPECTS = {"arrival": "到场", "cooperation": "配合", "result": "效果"}
SCORE_MIN, SCORE_MAX = 1, 5


def closed_at(history: Iterable[tuple[datetime, str]], moment: datetime) -> bool:
    """Whether the whistle was closed at ``moment``, from its close/reopen events (time, action):
    the last of them at or before the moment decides (none: it was open).

    >>> from datetime import datetime, UTC
    >>> t = [datetime(2026, 3, d, tzinfo=UTC) for d in (1, 2, 3)]
    >>> closed_at([(t[0], CLOSE), (t[1], REOPEN)], t[2]), closed_at([(t[0], CLOSE)], t[2])
    (False, True)
    """
    last = None
    for at, action in sorted(history, key=lambda item: item[0]):
        if at > moment:
            break
        last = action
    return last == CLOSE


def summons_outcome(due_at: datetime, checked_in_at: datetime | None, history: Iterable[tuple[datetime, str]],
                    *, as_of: datetime) -> str:
    """The summons' outcome (OUTCOMES) as of ``as_of``: its due time, its first check-in (None:
    none yet) and the whistle's close/reopen events (time, action)."""
    if checked_in_at is not None and checked_in_at <= due_at:
        return "on_time"
    if closed_at(history, due_at):
        return "excused"  # nobody need come to a whistle that had ended
    if checked_in_at is not None:
        return "late"
    return "missed" if due_at <= as_of else "pending"


def check_score(values: Mapping[str, object]) -> dict[str, int]:
    """The three scores as integers SCORE_MIN–SCORE_MAX, or InvalidInput naming the first bad one.

    >>> check_score({"arrival": 5, "cooperation": 4, "result": 3})
    {'arrival': 5, 'cooperation': 4, 'result': 3}
    """
    out = {}
    for aspect, name in SCORE_ASPECTS.items():
        value = values.get(aspect)
        if isinstance(value, bool) or not isinstance(value, int) or not SCORE_MIN <= value <= SCORE_MAX:
            raise InvalidInput(f"{name}评分（{aspect}）应为 {SCORE_MIN}–{SCORE_MAX} 的整数。", field=aspect,
                               code="bad_score")
        out[aspect] = value
    return out
