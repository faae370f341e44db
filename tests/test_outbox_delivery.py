"""Real delivery from the outbox: a local HTTP receiver (WeCom, DingTalk and generic webhooks) and
a local SMTP server (aiosmtpd) on 127.0.0.1; retries with backoff, dead letters, requeue, and no
notice sent twice by two senders racing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

import geo.services.channels
from geo.domain.errors import InvalidInput
from geo.domain.notices import DELIVERY_STATES, Channel, Notice, backoff, message, parse_channels
from geo.services import outbox as outbox_service
from geo.services.channels import SmtpSettings
from geo.store.events import insert_outbox
from webmap import create_app
from webmap.cli import main
from webmap.config import delivery_settings, load_config
from webmap.jobs import Runner

# --- local receivers -------------------------------------------------------------------------------


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers from a script: each path's
    queue of (status, body) is used up first, then ``default``."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.script: dict[str, list[tuple[int, dict]]] = {}
        self.default: tuple[int, dict] = (200, {"errcode": 0, "errmsg": "ok"})
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(receiver.delay)
                parsed = urllib.parse.urlsplit(self.path)
                receiver.requests.append({"path": parsed.path, "query": urllib.parse.parse_qs(parsed.query),
                                          "headers": dict(self.headers), "json": json.loads(body)})
                queue = receiver.script.get(parsed.path) or []
                status, answer = queue.pop(0) if queue else receiver.default
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def to(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[dict] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                              "message": message_from_bytes(envelope.content, policy=policy.default)})
        return "250 Message accepted for delivery"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
def engine_of(fresh_db: str) -> Iterator[Engine]:
    engine = create_engine(fresh_db)
    yield engine
    engine.dispose()


def channels_json(receiver: Receiver, **extra: object) -> str:
    channels = [
        {"name": "ga-wecom", "kind": "wecom", "url": f"{receiver.url}/wecom?key=K1", "recipients": ["GA"]},
        {"name": "duty", "kind": "dingtalk", "url": f"{receiver.url}/ding?access_token=T", "secret": "SECabc",
         "recipients": ["1101*"]},
        {"name": "hook", "kind": "webhook", "url": f"{receiver.url}/hook"},
    ]
    return json.dumps(channels + list(extra.get("more", [])))  # type: ignore[call-overload]


def runner_for(fresh_db: str, engine: Engine, channels: str, **settings: object) -> Runner:
    config = load_config({"DATABASE_URL": fresh_db, "GRIDMAP_OUTBOX_CHANNELS": channels,
                          "GRIDMAP_OUTBOX_BACKOFF_SECONDS": 0, **settings}, environ={})
    return Runner(engine, config)


def notice(engine: Engine, kind: str, recipient: str, payload: dict) -> int:
    with Session(engine) as s, s.begin():
        insert_outbox(s, kind, recipient, payload)
        return int(s.execute(text("SELECT max(id) FROM outbox")).scalar_one())


def deliveries(engine: Engine) -> dict[tuple[int, str], dict]:
    with engine.connect() as c:
        rows = c.execute(text("SELECT * FROM outbox_delivery")).mappings().all()
    return {(r["outbox_id"], r["channel"]): dict(r) for r in rows}


def sent_at(engine: Engine, outbox_id: int) -> datetime | None:
    with engine.connect() as c:
        return c.execute(text("SELECT sent_at FROM outbox WHERE id = :id"), {"id": outbox_id}).scalar_one()


# --- delivery --------------------------------------------------------------------------------------


def test_notices_reach_the_wecom_dingtalk_and_generic_receivers_their_recipients_match(fresh_db, engine_of,
                                                                                        receiver):
    ga = notice(engine_of, "dispatch", "GA", {"case": "C20260001", "action": "dispatch", "resolve_due": "2026-03-09"})
    street = notice(engine_of, "extension_request", "110101002", {"case": "C20260002", "reason": "材料未到"})
    runner = runner_for(fresh_db, engine_of, channels_json(receiver))
    assert runner.run("outbox_deliver") == 4  # GA: wecom + hook; the street: dingtalk + hook
    wecom, = receiver.to("/wecom")
    assert wecom["query"]["key"] == ["K1"] and wecom["json"]["msgtype"] == "text"
    assert "案件派遣" in wecom["json"]["text"]["content"] and "C20260001" in wecom["json"]["text"]["content"]
    assert wecom["headers"]["X-Gridmap-Notice"] == str(ga)
    ding, = receiver.to("/ding")
    stamp = ding["query"]["timestamp"][0]
    expected = base64.b64encode(hmac.new(b"SECabc", f"{stamp}\nSECabc".encode(), hashlib.sha256).digest()).decode()
    assert ding["query"]["sign"] == [expected] and abs(int(stamp) / 1000 - time.time()) < 60
    assert "延期申请" in ding["json"]["text"]["content"] and "材料未到" in ding["json"]["text"]["content"]
    hooks = sorted(receiver.to("/hook"), key=lambda r: r["json"]["id"])
    assert [h["json"]["id"] for h in hooks] == [ga, street]
    assert hooks[0]["json"]["payload"]["case"] == "C20260001" and hooks[0]["json"]["recipient"] == "GA"
    assert all(d["state"] == "sent" and d["attempts"] == 1 for d in deliveries(engine_of).values())
    assert sent_at(engine_of, ga) is not None and sent_at(engine_of, street) is not None
    assert runner.run("outbox_deliver") == 0 and len(receiver.requests) == 4  # nothing twice


def test_email_reaches_the_local_smtp_server_with_a_stable_message_id(fresh_db, engine_of, receiver, mailbox):
    box, port = mailbox
    mail = [{"name": "mail", "kind": "email", "to": ["ga@example.org"], "recipients": ["GA"]},
            {"name": "requester-mail", "kind": "email"}]
    channels = json.dumps(mail)
    ga = notice(engine_of, "overdue", "GA", {"case": "C20260003", "step": "resolve"})
    person = notice(engine_of, "requester_notice", "li@example.com", {"case": "C20260004", "step_name": "办结"})
    notice(engine_of, "requester_notice", "13812345678", {"case": "C20260005"})  # a phone: no e-mail channel
    runner = runner_for(fresh_db, engine_of, channels, GRIDMAP_SMTP_HOST="127.0.0.1", GRIDMAP_SMTP_PORT=port,
                        GRIDMAP_SMTP_FROM="gridmap@city.example")
    assert runner.run("outbox_deliver") == 2
    by_to = {m["to"][0]: m for m in box.messages}
    assert set(by_to) == {"ga@example.org", "li@example.com"}
    first = by_to["ga@example.org"]["message"]
    assert first["Message-ID"] == f"<outbox-{ga}.mail@city.example>"
    assert str(first["Subject"]) == "【网格化管理】案件超期"
    assert "案件：C20260003" in first.get_content()
    assert by_to["li@example.com"]["message"]["Message-ID"] == f"<outbox-{person}.requester-mail@city.example>"


def test_a_receiver_that_fails_then_recovers_gets_the_notice_with_the_same_id(fresh_db, engine_of, receiver):
    receiver.script["/hook"] = [(500, {"error": "busy"}), (503, {"error": "busy"})]
    one = notice(engine_of, "summons", "GA", {"whistle": 7, "cases": ["C1", "C2"], "due_at": "2026-03-10T11:30"})
    runner = runner_for(fresh_db, engine_of, json.dumps([{"name": "hook", "kind": "webhook",
                                                         "url": f"{receiver.url}/hook"}]))
    assert runner.run("outbox_deliver") == 1  # no backoff here: three attempts in one run
    attempts = receiver.to("/hook")
    assert len(attempts) == 3 and {a["headers"]["X-Gridmap-Notice"] for a in attempts} == {str(one)}
    delivery = deliveries(engine_of)[(one, "hook")]
    assert delivery["state"] == "sent" and delivery["attempts"] == 3 and delivery["last_error"] is None


def test_a_failed_attempt_waits_out_its_backoff(fresh_db, engine_of, receiver):
    receiver.default = (500, {"error": "down"})
    one = notice(engine_of, "note", "GA", {"case": "C1", "note": "x"})
    runner = runner_for(fresh_db, engine_of, json.dumps([{"name": "hook", "kind": "webhook",
                                                         "url": f"{receiver.url}/hook"}]),
                        GRIDMAP_OUTBOX_BACKOFF_SECONDS=30)
    before = datetime.now(UTC)
    runner.run("outbox_deliver")
    runner.run("outbox_deliver")
    assert len(receiver.requests) == 1  # the second run found nothing due
    delivery = deliveries(engine_of)[(one, "hook")]
    assert delivery["state"] == "pending" and delivery["attempts"] == 1 and "HTTP 500" in delivery["last_error"]
    wait = delivery["next_attempt_at"] - before
    assert timedelta(seconds=29) < wait < timedelta(seconds=40)


def test_a_robot_that_answers_200_with_an_error_code_is_a_failure(fresh_db, engine_of, receiver):
    receiver.default = (200, {"errcode": 93000, "errmsg": "invalid webhook url"})
    one = notice(engine_of, "dispatch", "GA", {"case": "C1"})
    runner = runner_for(fresh_db, engine_of, channels_json(receiver), GRIDMAP_OUTBOX_BACKOFF_SECONDS=30)
    runner.run("outbox_deliver")
    wecom = deliveries(engine_of)[(one, "ga-wecom")]
    assert wecom["state"] == "pending" and "93000" in wecom["last_error"]
    assert deliveries(engine_of)[(one, "hook")]["state"] == "sent"  # a generic webhook takes any 2xx
    assert sent_at(engine_of, one) is None  # not every channel has it yet


def test_dead_letters_are_listed_counted_on_metrics_and_can_be_requeued(fresh_db, engine_of, receiver):
    receiver.default = (500, {"error": "down"})
    one = notice(engine_of, "dispatch", "GA", {"case": "C1"})
    hook = json.dumps([{"name": "hook", "kind": "webhook", "url": f"{receiver.url}/hook"}])
    runner = runner_for(fresh_db, engine_of, hook, GRIDMAP_OUTBOX_MAX_ATTEMPTS=3)
    assert runner.run("outbox_deliver") == 0
    assert len(receiver.requests) == 3
    assert deliveries(engine_of)[(one, "hook")]["state"] == "dead"
    env = {"DATABASE_URL": fresh_db, "GRIDMAP_OUTBOX_CHANNELS": hook}
    dead = CliRunner().invoke(main, ["outbox", "dead"], env=env)
    assert dead.exit_code == 0 and json.loads(dead.output.splitlines()[0])["id"] == one
    assert "HTTP 500" in json.loads(dead.output.splitlines()[0])["last_error"]
    status = CliRunner().invoke(main, ["outbox", "status"], env=env)
    assert status.output.split()[0] == "hook" and status.output.split("死信")[1].split()[0] == "1"
    app = create_app({"DATABASE_URL": fresh_db, "GRIDMAP_SECRET_KEY": "test"})
    body = app.test_client().get("/metrics").get_data(as_text=True)
    app.extensions["gridmap"]["engine"].dispose()
    assert "gridmap_outbox_dead 1.0" in body and 'gridmap_outbox_deliveries{channel="hook",state="dead"} 1.0' in body
    assert runner.run("outbox_deliver") == 0 and len(receiver.requests) == 3  # dead: not tried again
    receiver.default = (200, {})
    assert CliRunner().invoke(main, ["outbox", "retry"], env=env).exit_code != 0  # names nothing: refused
    retry = CliRunner().invoke(main, ["outbox", "retry", "--all"], env=env)
    assert retry.exit_code == 0 and "1 条" in retry.output
    assert runner.run("outbox_deliver") == 1
    assert deliveries(engine_of)[(one, "hook")]["state"] == "sent" and sent_at(engine_of, one) is not None


def test_two_senders_racing_never_send_a_notice_twice(fresh_db, engine_of, receiver):
    receiver.delay = 0.05
    ids = [notice(engine_of, "dispatch", "GA", {"case": f"C{i}"}) for i in range(12)]
    settings = delivery_settings(load_config({"GRIDMAP_OUTBOX_CHANNELS": json.dumps(
        [{"name": "hook", "kind": "webhook", "url": f"{receiver.url}/hook"}])}, environ={}))
    with Session(engine_of) as s, s.begin():
        outbox_service.route(s, settings.channels)
    sent_by: dict[str, int] = {}

    def sender(name: str) -> None:
        count = 0
        while True:
            with Session(engine_of) as s, s.begin():
                if outbox_service.deliver_one(s, settings) is None:
                    break
            count += 1
        sent_by[name] = count

    threads = [threading.Thread(target=sender, args=(n,)) for n in ("a", "b")]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    received = [int(r["headers"]["X-Gridmap-Notice"]) for r in receiver.requests]
    assert sorted(received) == ids  # each exactly once
    assert sent_by["a"] > 0 and sent_by["b"] > 0 and sent_by["a"] + sent_by["b"] == 12


def test_a_crash_mid_send_leaves_the_delivery_pending_and_it_goes_again_with_the_same_id(fresh_db, engine_of,
                                                                                         receiver, monkeypatch):
    one = notice(engine_of, "dispatch", "GA", {"case": "C1"})
    hook = json.dumps([{"name": "hook", "kind": "webhook", "url": f"{receiver.url}/hook"}])
    real_send = geo.services.channels.send

    class Crash(BaseException):
        pass

    def crashing(*args: object) -> None:
        real_send(*args)  # type: ignore[arg-type]
        raise Crash  # the process dies after the receiver answered, before the commit

    monkeypatch.setattr("geo.services.outbox.send", crashing)
    runner = runner_for(fresh_db, engine_of, hook)
    with pytest.raises(Crash):
        runner.run("outbox_deliver")
    delivery = deliveries(engine_of)[(one, "hook")]
    assert delivery["state"] == "pending" and delivery["attempts"] == 0
    monkeypatch.setattr("geo.services.outbox.send", real_send)
    assert runner.run("outbox_deliver") == 1
    assert [r["headers"]["X-Gridmap-Notice"] for r in receiver.requests] == [str(one), str(one)]  # receiver can dedupe
    assert deliveries(engine_of)[(one, "hook")]["state"] == "sent"


def test_notices_matching_no_channel_stay_unsent_and_are_not_looked_at_again(fresh_db, engine_of, receiver):
    notice(engine_of, "dispatch", "HBJ", {"case": "C1"})
    runner = runner_for(fresh_db, engine_of, json.dumps([{"name": "ga", "kind": "wecom", "url": f"{receiver.url}/w",
                                                         "recipients": ["GA"]}]))
    assert runner.run("outbox_deliver") == 0 and receiver.requests == []
    with engine_of.connect() as c:
        row = c.execute(text("SELECT sent_at, routed_at FROM outbox")).one()
    assert row.sent_at is None and row.routed_at is not None


def test_drain_still_prints_every_unsent_notice(fresh_db, engine_of):
    one = notice(engine_of, "dispatch", "GA", {"case": "C1"})
    result = CliRunner().invoke(main, ["outbox", "drain"], env={"DATABASE_URL": fresh_db})
    assert result.exit_code == 0 and json.loads(result.output.splitlines()[0])["id"] == one
    assert sent_at(engine_of, one) is not None


# --- the rules -------------------------------------------------------------------------------------


def test_delivery_states_are_the_ones_the_migration_froze(engine):
    with engine.connect() as c:
        definition = c.execute(text("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                                    "WHERE conname = 'ck_outbox_delivery_state'")).scalar_one()
    assert sorted(re.findall(r"'([a-z]+)'", definition)) == sorted(DELIVERY_STATES)


@pytest.mark.parametrize(("raw", "field_word"), [
    ("not json", "JSON"),
    ('{"name": "x"}', "列表"),
    ('[{"name": "Bad Name", "kind": "wecom", "url": "http://h"}]', "name"),
    ('[{"name": "x", "kind": "sms", "url": "http://h"}]', "kind"),
    ('[{"name": "x", "kind": "wecom", "url": "ftp://h"}]', "url"),
    ('[{"name": "x", "kind": "email", "to": ["not-an-address"]}]', "to"),
    ('[{"name": "x", "kind": "webhook", "url": "http://h", "recipients": []}]', "recipients"),
    ('[{"name": "x", "kind": "webhook", "url": "http://h"}, {"name": "x", "kind": "webhook", "url": "http://h"}]',
     "重复"),
])
def test_a_bad_channel_setting_is_refused_naming_what_to_fix(raw, field_word):
    with pytest.raises(InvalidInput) as caught:
        parse_channels(raw)
    assert caught.value.field == "GRIDMAP_OUTBOX_CHANNELS" and field_word in caught.value.message


def test_recipient_patterns():
    ga, streets = parse_channels('[{"name": "a", "kind": "webhook", "url": "http://h", "recipients": ["GA"]},'
                                 '{"name": "b", "kind": "webhook", "url": "http://h", "recipients": ["1101*"]}]')
    assert ga.accepts("GA") and not ga.accepts("GA01") and not ga.accepts("HBJ")
    assert streets.accepts("110101002") and not streets.accepts("120101002")
    mail = Channel("m", "email")
    assert mail.accepts("a@b.cn") and not mail.accepts("13812345678")


def test_backoff_doubles_and_is_capped():
    assert [backoff(n, 10).total_seconds() for n in range(1, 6)] == [10, 20, 40, 80, 160]
    assert backoff(50, 10) == timedelta(hours=1)


def test_message_text_names_the_kind_and_the_case_in_chinese():
    subject, body = message(Notice(5, "extension_decision", "GA", {"case": "C9", "approved": False, "note": "不同意"},
                                   datetime(2026, 1, 1, tzinfo=UTC)))
    assert subject == "【网格化管理】延期审批结果"
    assert body.splitlines()[1:] == ["案件：C9", "是否批准：否", "说明：不同意", "通知编号：5"]


def test_an_email_channel_without_an_smtp_server_is_a_failed_attempt_not_a_crash():
    with pytest.raises(geo.services.channels.DeliveryFailed, match="GRIDMAP_SMTP_HOST"):
        geo.services.channels.send(Channel("m", "email", to=("a@b.cn",)),
                                   Notice(1, "note", "GA", {}, datetime(2026, 1, 1, tzinfo=UTC)), SmtpSettings())


def test_a_bad_smtp_security_setting_is_refused():
    with pytest.raises(InvalidInput) as caught:
        delivery_settings(load_config({"GRIDMAP_SMTP_SECURITY": "tls13"}, environ={}))
    assert caught.value.field == "GRIDMAP_SMTP_SECURITY"
