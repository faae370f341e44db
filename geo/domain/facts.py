"""A case's facts (the statistics fold): what its row of case_fact says, from its events.

The one home of these rules. Pure numpy, column-wise: storage (geo.store.fact_copy) copies the
events out as arrays, ``fold`` folds every case at once (sorting by case and event id, then
per-case reductions at the group boundaries), and storage copies the facts back in. Per case, its
events taken in id order:

- ``last_event_id``: the highest event id;
- ``status``: the ``to_status`` of the last event that set one (0: none; storage keeps the case's own);
- ``dispatched_at``: the first dispatch (派遣; a reopen's new clock is not a dispatch);
- ``responded_at``: the first response (联系诉求人); ``respond_clock_at`` / ``respond_clock_due``: the
  clock that response answered — the last dispatch or reopen before it, its time and its
  ``respond_due``;
- ``clock_at``, ``respond_due``, ``resolve_due``: the clock in force — the last dispatch or reopen;
- ``resolved_at``: the last resolve (办结), only while the case stands finished (FINISHED);
- ``callback``: the last callback's answers (回访), packed as ``ANSWERS`` codes (see ``answers``).

Times are int64 in any unit storage likes (PostgreSQL's microseconds); ``NO_TIME`` is "none".

>>> t = fold({"case_id": np.array([7, 7, 7]), "event_id": np.array([1, 2, 3]),
...           "at": np.array([10, 20, 30]), "action": np.array([0, code("dispatch"), code("respond")]),
...           "to_status": np.array([1, 2, 4]), "respond_due": np.array([NO_TIME, 44, NO_TIME]),
...           "resolve_due": np.array([NO_TIME, 99, NO_TIME]), "callback": np.array([0, 0, 0])})
>>> t["respond_clock_at"].tolist(), t["respond_clock_due"].tolist(), t["responded_at"].tolist()
([20], [44], [30])
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from geo.domain.statuses import FINISHED, NUMBERS

__all__ = ["ACTIONS", "ANSWERS", "CLOCK_ACTIONS", "EVENT_COLUMNS", "FACT_TIMES", "NO_TIME", "answers", "code",
           "fold", "pack_answers"]

#: The actions the fold reads (code = position + 1; every other action is 0).
ACTIONS = ("dispatch", "reopen", "respond", "resolve", "callback")
#: The actions that start a respond and resolve clock; their details carry respond_due and resolve_due.
CLOCK_ACTIONS = ("dispatch", "reopen")
#: A callback's answers (its details' booleans), in packing order.
ANSWERS = ("contacted", "solved", "satisfied")
#: An answer's code: 0 no, 1 yes, 2 not given.
_NOT_GIVEN = 2
NO_TIME = np.iinfo(np.int64).min
#: The arrays ``fold`` takes, one value per event.
EVENT_COLUMNS = ("case_id", "event_id", "at", "action", "to_status", "respond_due", "resolve_due", "callback")
#: The time facts ``fold`` returns (NO_TIME when none).
FACT_TIMES = ("dispatched_at", "respond_clock_at", "respond_clock_due", "responded_at", "clock_at",
              "respond_due", "resolve_due", "resolved_at")
_FINISHED = np.array([NUMBERS[s] for s in FINISHED])


def code(action: str) -> int:
    """The fold's code of an action (0 for one it does not read)."""
    return ACTIONS.index(action) + 1 if action in ACTIONS else 0


def pack_answers(contacted: bool | None, solved: bool | None, satisfied: bool | None) -> int:
    """A callback's answers as one small int (storage computes the same in SQL from ANSWERS)."""
    values = [_NOT_GIVEN if a is None else int(a) for a in (contacted, solved, satisfied)]
    return sum(v * 3 ** k for k, v in enumerate(values))


def answers(packed: np.ndarray) -> dict[str, np.ndarray]:
    """Packed answers → per answer an int8 array: 0 no, 1 yes, -1 not given (or no callback)."""
    out = {}
    for k, name in enumerate(ANSWERS):
        digit = (np.asarray(packed, dtype=np.int64) // 3 ** k) % 3
        out[name] = np.where(digit == _NOT_GIVEN, -1, digit).astype(np.int8)
    return out


def fold(events: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every case's facts from its events (EVENT_COLUMNS, in any order): one value per case, cases
    by ascending id (``case_id``). A case without a callback has packed answers -1."""
    case = np.asarray(events["case_id"], dtype=np.int64)
    ids = np.asarray(events["event_id"], dtype=np.int64)
    if len(case) == 0:
        return _empty()
    order = _by_case_and_id(case, ids)
    case, ids = case[order], ids[order]
    n = len(case)
    change = np.empty(n, dtype=bool)
    change[0], change[1:] = True, case[1:] != case[:-1]
    starts = np.flatnonzero(change)
    cases = len(starts)
    group = np.repeat(np.arange(cases), np.diff(np.append(starts, n)))  # each event's case, 0 … cases − 1

    def pick(mask: np.ndarray, which: str) -> np.ndarray:  # the case's first or last event with mask, -1 none
        at = np.flatnonzero(mask)  # positions in case, id order
        g = group[at]
        keep = np.empty(len(at), dtype=bool)
        if len(at):
            if which == "first":
                keep[0], keep[1:] = True, g[1:] != g[:-1]
            else:
                keep[-1], keep[:-1] = True, g[1:] != g[:-1]
        found = np.full(cases, -1, dtype=np.int64)
        found[g[keep]] = at[keep]
        return found

    def take(values: np.ndarray, at: np.ndarray, missing: int) -> np.ndarray:
        out = np.full(len(at), missing, dtype=np.int64)
        ok = at >= 0
        out[ok] = values[order[at[ok]]]  # values are in the caller's order
        return out

    action = np.asarray(events["action"])[order]
    to_status = np.asarray(events["to_status"])
    at, respond_due, resolve_due = (np.asarray(events[k]) for k in ("at", "respond_due", "resolve_due"))
    is_clock = np.logical_or.reduce([action == code(a) for a in CLOCK_ACTIONS])
    status = take(to_status, pick(to_status[order] != 0, "last"), 0)
    responded = pick(action == code("respond"), "first")
    # the clock the first response answered: the last clock event before it, in the same case
    clocks = np.flatnonzero(is_clock)
    before = np.searchsorted(clocks, responded, side="left") - 1  # responses are never clock events
    answered = np.where(before >= 0, clocks[np.maximum(before, 0)], -1) if len(clocks) else np.full(cases, -1)
    answered = np.where((responded >= 0) & (answered >= starts), answered, -1)
    clock = pick(is_clock, "last")
    resolved = np.where(np.isin(status, _FINISHED), pick(action == code("resolve"), "last"), -1)
    return {
        "case_id": case[starts],
        "last_event_id": ids[np.concatenate((starts[1:], [n])) - 1],
        "status": status,
        "dispatched_at": take(at, pick(action == code("dispatch"), "first"), NO_TIME),
        "respond_clock_at": take(at, answered, NO_TIME),
        "respond_clock_due": take(respond_due, answered, NO_TIME),
        "responded_at": take(at, responded, NO_TIME),
        "clock_at": take(at, clock, NO_TIME),
        "respond_due": take(respond_due, clock, NO_TIME),
        "resolve_due": take(resolve_due, clock, NO_TIME),
        "resolved_at": take(at, resolved, NO_TIME),
        "callback": take(np.asarray(events["callback"]), pick(action == code("callback"), "last"), -1),
    }


def _by_case_and_id(case: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The order of the events by case, then id. Events usually come in id order (a table scan of
    an append-only table): then one sort of int64 keys (case, position) — about half a lexsort."""
    n, low = len(case), int(case.min())
    if (n > 1 and not (ids[1:] > ids[:-1]).all()) or (int(case.max()) - low + 1) * n >= 2**62:
        return np.lexsort((ids, case))
    keys = np.sort((case - low) * n + np.arange(n))
    return keys % n


def _empty() -> dict[str, np.ndarray]:
    out = {name: np.empty(0, dtype=np.int64) for name in ("case_id", "last_event_id", "status", "callback")}
    out.update({name: np.empty(0, dtype=np.int64) for name in FACT_TIMES})
    return out
