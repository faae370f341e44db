"""SQL fragments derived from the status vocabulary (geo.domain.statuses): never typed by hand.

>>> status_in("c.status", ("closed", "void"))
"c.status IN ('closed', 'void')"
>>> print(next_due_sql("c"))  # doctest: +NORMALIZE_WHITESPACE
CASE WHEN c.status = 'received' THEN c.dispatch_due
     WHEN c.status IN ('dispatched', 'signed') THEN least(c.respond_due, c.resolve_due)
     WHEN c.status IN ('responded', 'in_progress', 'returned', 'suspended') THEN c.resolve_due END
"""

from __future__ import annotations

from collections.abc import Iterable

from geo.domain.statuses import NUMBERS, STATUSES, WAITING, Status

__all__ = [
    "OVERDUE_SQL",
    "OVERDUE_STEP_SQL",
    "next_due_sql",
    "overdue_seconds_sql",
    "overdue_sql",
    "overdue_step_sql",
    "status_in",
    "status_not_in",
    "status_number_sql",
    "status_order_sql",
]


def _literals(codes: Iterable[str]) -> str:
    codes = tuple(codes)
    if not all(c.replace("_", "").isalnum() for c in codes):  # vocabulary words only, never input
        raise ValueError(f"not a status code: {codes!r}")
    return ", ".join(f"'{c}'" for c in codes)


def status_in(column: str, codes: Iterable[str]) -> str:
    codes = tuple(codes)
    return f"{column} = {_literals(codes)}" if len(codes) == 1 else f"{column} IN ({_literals(codes)})"


def status_not_in(column: str, codes: Iterable[str]) -> str:
    return f"{column} NOT IN ({_literals(codes)})"


def _prefix(alias: str) -> str:
    return f"{alias}." if alias else ""


def overdue_sql(alias: str = "c", now: str = "now()") -> str:
    """True when a clock the case's status waits for has run out (geo.domain.statuses)."""
    a = _prefix(alias)
    terms = [f"({status_in(a + 'status', codes)} AND {a}{step}_due < {now})" for step, codes in WAITING.items()]
    return "(" + " OR ".join(terms) + ")"


def overdue_step_sql(alias: str = "c", now: str = "now()") -> str:
    """The furthest step whose clock has run out (statuses.overdue_step), or NULL."""
    a = _prefix(alias)
    whens = [f"WHEN {status_in(a + 'status', codes)} AND {a}{step}_due < {now} THEN '{step}'"
             for step, codes in reversed(WAITING.items())]
    return "CASE " + " ".join(whens) + " END"


def next_due_sql(alias: str = "") -> str:
    """The earliest deadline the case's status waits for (statuses.next_due), or NULL."""
    a = _prefix(alias)
    by_clocks: dict[tuple[str, ...], list[Status]] = {}
    for s in STATUSES:
        if s.waits_for:
            by_clocks.setdefault(s.waits_for, []).append(s)
    whens = []
    for steps, statuses in by_clocks.items():
        due = [f"{a}{step}_due" for step in steps]
        value = due[0] if len(due) == 1 else f"least({', '.join(due)})"
        whens.append(f"WHEN {status_in(a + 'status', (s.code for s in statuses))} THEN {value}")
    return "CASE " + "\n     ".join(whens) + " END"


def overdue_seconds_sql(alias: str = "c", now: str = "now()") -> str:
    """Seconds since the earliest waited clock ran out (statuses.overdue_by), or NULL when not overdue."""
    due = next_due_sql(alias)
    return f"(CASE WHEN ({due}) < {now} THEN extract(epoch FROM {now} - ({due})) END)"


def status_order_sql(column: str = "c.status") -> str:
    """A status's place in the workflow (statuses.STATUSES order), for sorting lists."""
    return f"(CASE {column} " + " ".join(f"WHEN '{s.code}' THEN {i}" for i, s in enumerate(STATUSES)) + " END)"


def status_number_sql(column: str = "status") -> str:
    """The status's stable record number (0 for an unknown status)."""
    return f"(CASE {column} " + " ".join(f"WHEN '{c}' THEN {n}" for c, n in NUMBERS.items()) + " ELSE 0 END)"


OVERDUE_SQL = overdue_sql()
OVERDUE_STEP_SQL = overdue_step_sql()
