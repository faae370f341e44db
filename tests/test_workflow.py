"""The lifecycle table (pure): every action from every state, reasons, roles."""

import pytest

from geo.domain.errors import Conflict, Forbidden, InvalidInput
from geo.domain.workflow import ACTIONS, STATES, Actor, plan

ROLE_FOR = {name: Actor(action.roles[0]) for name, action in ACTIONS.items()}
EXPECTED = {  # action: (from states, to state) — DOMAIN.md's table, written out
    "dispatch": ({"received", "returned"}, "dispatched"),
    "void": ({"received"}, "void"),
    "sign": ({"dispatched"}, "signed"),
    "return": ({"dispatched", "signed"}, "returned"),
    "respond": ({"signed"}, "responded"),
    "start": ({"signed", "responded", "suspended"}, "in_progress"),
    "suspend": ({"in_progress"}, "suspended"),
    "resolve": ({"in_progress"}, "resolved"),
    "check": ({"resolved"}, "checked"),
    "reject_check": ({"resolved"}, "in_progress"),
    "close": ({"checked"}, "closed"),
    "callback": ({"closed"}, None),
    "reopen": ({"closed"}, "dispatched"),
    # None: the case stays where it is (a record, not a move)
    "extend": ({"dispatched", "signed", "responded", "in_progress", "suspended"}, None),
    "approve_extension": ({"dispatched", "signed", "responded", "in_progress", "suspended"}, None),
    "deny_extension": ({"dispatched", "signed", "responded", "in_progress", "suspended"}, None),
    "supervise": (set(STATES) - {"closed", "void"}, None),
    "note": (set(STATES), None),
}


def test_the_table_is_written_out_for_every_action():
    assert set(EXPECTED) == set(ACTIONS)


@pytest.mark.parametrize("action", sorted(EXPECTED))
@pytest.mark.parametrize("status", sorted(STATES))
def test_every_action_from_every_state(action, status):
    allowed, to_status = EXPECTED[action]
    if status in allowed:
        assert plan(action, status, ROLE_FOR[action], reason="原因").to_status == (to_status or status)
    else:
        with pytest.raises(Conflict):
            plan(action, status, ROLE_FOR[action], reason="原因")


@pytest.mark.parametrize("action", ["return", "void", "suspend", "reject_check", "reopen", "resolve", "extend",
                                    "deny_extension", "supervise", "note"])
def test_reason_required(action):
    status = sorted(EXPECTED[action][0])[0]
    with pytest.raises(InvalidInput) as err:
        plan(action, status, ROLE_FOR[action], reason="  ")
    assert err.value.field == "note"


@pytest.mark.parametrize(("action", "role"), [("dispatch", "department_staff"), ("sign", "planner"),
                                              ("close", "grid_worker"), ("check", "planner"), ("void", "admin"),
                                              ("callback", "street_leader"), ("supervise", "street_leader"),
                                              ("note", "planner"), ("approve_extension", "department_staff")])
def test_wrong_role_is_forbidden(action, role):
    with pytest.raises(Forbidden):
        plan(action, sorted(EXPECTED[action][0])[0], Actor(role), reason="原因")


def test_unknown_action():
    with pytest.raises(InvalidInput):
        plan("teleport", "received", Actor("street_leader"))
