"""A plausible handling history for demo cases, so the statistics and hotspot pages have something
to show on a fresh `make run`. Pure: given the cases, it returns the events; storage writes them.

Each street gets a "quality" (how fast and how well its cases are handled), so streets rank
differently. Nothing happens after ``now``: a case's history stops at its last step before it.

>>> import pandas as pd
>>> cases = pd.DataFrame({"id": [1], "reported_at": [pd.Timestamp("2026-11-01 09:00", tz="UTC")],
...                       "street_code": ["110102004"], "lead_department": ["CGW"],
...                       "resolve_limit_hours": [168.0]})
>>> events = plan_history(cases, now=pd.Timestamp("2026-11-28", tz="UTC"), seed=1)
>>> bool((events["at"] <= pd.Timestamp("2026-11-28", tz="UTC")).all()), events["action"].iloc[0] in ("dispatch",)
(True, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from geo.domain.statuses import INITIAL_STATUS
from geo.domain.workflow import Actor, plan

__all__ = ["plan_history"]

#: The demo's path through the lifecycle, with who takes each action.
_PATH = (("dispatch", "street_leader"), ("sign", "department_staff"), ("respond", "department_staff"),
         ("start", "department_staff"), ("resolve", "department_staff"), ("check", "grid_worker"),
         ("close", "street_leader"), ("callback", "hotline"))


def _steps() -> tuple[tuple[str, str, str, str], ...]:
    """(action, from, to, actor role) along _PATH, the states taken from the workflow's table."""
    status, steps = INITIAL_STATUS, []
    for action, role in _PATH:
        after = plan(action, status, Actor(role), reason="演示").to_status
        steps.append((action, status, after, role))
        status = after
    return tuple(steps)


#: The steps, in order, with who takes them: (action, from, to, actor role).
STEPS = _steps()
RESPOND_HOURS = 24.0
HOUR = pd.Timedelta(hours=1)


def plan_history(cases: pd.DataFrame, *, now: pd.Timestamp, seed: int = 12345) -> pd.DataFrame:
    """Events (case_id, at, action, from_status, to_status, actor_role, details) for ``cases``
    (id, reported_at, street_code, lead_department, resolve_limit_hours), in time order per case."""
    rng = np.random.default_rng(seed)
    streets = sorted(cases["street_code"].dropna().unique())
    quality = dict(zip(streets, rng.uniform(0.55, 0.98, len(streets)), strict=True))
    rows: list[dict[str, Any]] = []
    for case in cases.to_dict("records"):
        q = quality.get(case["street_code"], 0.8)
        if rng.random() < 0.12:  # still waiting to be dispatched
            continue
        at = pd.Timestamp(case["reported_at"]) + rng.uniform(0.1, 3.0) * HOUR
        hours = case["resolve_limit_hours"]
        limit = float(hours) if hours is not None and hours == hours else 168.0
        respond_due, resolve_due = at + RESPOND_HOURS * HOUR, at + limit * HOUR
        gaps = {
            "sign": rng.uniform(0.2, 6.0),
            "respond": rng.uniform(1.0, 20.0) if rng.random() < q else rng.uniform(25.0, 60.0),
            "start": rng.uniform(0.5, 12.0),
            "resolve": limit * (rng.uniform(0.1, 0.9) if rng.random() < q else rng.uniform(1.05, 1.8)),
            "check": rng.uniform(1.0, 24.0),
            "close": rng.uniform(1.0, 24.0),
            "callback": rng.uniform(2.0, 48.0),
        }
        stop = len(STEPS) if rng.random() < 0.85 else int(rng.integers(1, len(STEPS)))
        for action, before, after, role in STEPS[:stop]:
            if action != "dispatch":
                at = at + gaps[action] * HOUR
            if at > now:
                break
            details: dict[str, Any] = {}
            if action == "dispatch":
                details = {"respond_due": respond_due.isoformat(), "resolve_due": resolve_due.isoformat()}
            elif action == "callback":
                details = {"contacted": bool(rng.random() < 0.97), "solved": bool(rng.random() < q),
                           "satisfied": bool(rng.random() < q * 0.95)}
            rows.append({"case_id": int(case["id"]), "at": at, "action": action, "from_status": before,
                         "to_status": after, "actor_role": role, "details": details,
                         "department": case["lead_department"]})
    columns = ["case_id", "at", "action", "from_status", "to_status", "actor_role", "details", "department"]
    return pd.DataFrame(rows, columns=columns)
