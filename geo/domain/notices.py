"""Notices (通知) leaving the outbox: delivery channels, their message shapes, retries and the
dead-letter state. Pure: the senders (HTTP, SMTP) live in ``geo.services.channels``.

A channel is configured by ``GRIDMAP_OUTBOX_CHANNELS`` (a JSON list) and takes the notices whose
recipient (a department, street or community code, or a requester's phone or e-mail) matches one
of its ``recipients`` patterns (``*`` is every recipient, ``1101*`` a prefix):

>>> [c.name for c in parse_channels('[{"name": "ga", "kind": "wecom", "url": "http://h/k", "recipients": ["GA"]}]')]
['ga']
>>> parse_channels('[{"name": "ga", "kind": "wecom", "url": "http://h/k"}]')[0].accepts("GA")
True

Kinds: ``wecom`` (企业微信群机器人), ``dingtalk`` (钉钉群机器人, with the optional 加签 ``secret``),
``webhook`` (a generic JSON POST of the notice) and ``email`` (SMTP, ``to`` the addresses; without
``to`` a recipient that is an e-mail address, such as a requester's).

Each (notice, channel) is one delivery: ``pending`` until it is sent, retried with exponential
backoff (``backoff``), ``dead`` after the last allowed attempt, visible in ``gridmap outbox status``
and ``/metrics``, and requeued by ``gridmap outbox retry``.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from geo.domain.errors import InvalidInput

__all__ = ["CHANNEL_KINDS", "DEAD", "DELIVERY_STATES", "PENDING", "SENT", "Channel", "Notice", "backoff",
           "dingtalk_signed_url", "message", "parse_channels", "request_body"]

#: A delivery's states; migration 0016 froze them in a CHECK constraint (tests/test_outbox_delivery.py pins it).
PENDING, SENT, DEAD = "pending", "sent", "dead"
DELIVERY_STATES = (PENDING, SENT, DEAD)
CHANNEL_KINDS = ("wecom", "dingtalk", "webhook", "email")
#: The longest wait between two attempts, however many have failed.
BACKOFF_CAP = timedelta(hours=1)
_NAME = re.compile(r"^[a-z0-9_-]{1,64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

#: What each kind of notice says first (the payload's details follow).
TITLES = {
    "dispatch": "案件派遣",
    "extension_request": "延期申请",
    "extension_decision": "延期审批结果",
    "supervision": "督办",
    "note": "案件备注",
    "overdue": "案件超期",
    "summons": "吹哨召集（请按时报到）",
    "whistle_reopen": "吹哨重新召集",
    "requester_notice": "您的诉求办理进展",
}
#: Payload keys in the order they are written out, with their Chinese names.
FIELDS = {"case": "案件", "cases": "案件", "whistle": "吹哨", "round": "轮次", "action": "操作", "step": "环节",
          "step_name": "环节", "reason": "原因", "note": "说明", "by": "操作人", "approved": "是否批准",
          "resolve_due": "办结期限", "requested_due": "申请期限", "due_at": "报到期限"}


@dataclass(frozen=True)
class Notice:
    """One outbox row; ``id`` is stable: receivers use it to drop a repeat (at-least-once delivery)."""

    id: int
    kind: str
    recipient: str
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Channel:
    name: str
    kind: str
    url: str = ""
    secret: str = ""
    recipients: tuple[str, ...] = ("*",)
    to: tuple[str, ...] = field(default_factory=tuple)

    def accepts(self, recipient: str) -> bool:
        """Whether a notice for ``recipient`` goes out on this channel (an e-mail channel without
        ``to`` takes only recipients that are e-mail addresses)."""
        if self.kind == "email" and not self.to and not _EMAIL.match(recipient):
            return False
        return any(fnmatch.fnmatchcase(recipient, pattern) for pattern in self.recipients)

    def addresses(self, recipient: str) -> tuple[str, ...]:
        """The e-mail addresses a notice for ``recipient`` goes to on this (email) channel."""
        return self.to or (recipient,)


def _bad(index: int, key: str, message: str) -> InvalidInput:
    return InvalidInput(f"GRIDMAP_OUTBOX_CHANNELS 第 {index + 1} 个通道的 {key}：{message}",
                        field="GRIDMAP_OUTBOX_CHANNELS", code="bad_setting")


def parse_channels(raw: str | list[dict[str, Any]] | None) -> tuple[Channel, ...]:
    """The channels of ``GRIDMAP_OUTBOX_CHANNELS`` (a JSON string, or a list in an instance file)."""
    if not raw:
        return ()
    try:
        items = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"GRIDMAP_OUTBOX_CHANNELS 不是有效的 JSON（{exc.msg}，第 {exc.pos} 个字符）。",
                           field="GRIDMAP_OUTBOX_CHANNELS", code="bad_setting") from exc
    if not isinstance(items, list):
        raise InvalidInput("GRIDMAP_OUTBOX_CHANNELS 应为 JSON 列表，如 [{\"name\": \"wecom\", \"kind\": \"wecom\", "
                           "\"url\": \"…\"}]。", field="GRIDMAP_OUTBOX_CHANNELS", code="bad_setting")
    channels = [_channel(i, item) for i, item in enumerate(items)]
    names = [c.name for c in channels]
    if len(set(names)) != len(names):
        raise InvalidInput("GRIDMAP_OUTBOX_CHANNELS 里通道名称重复：每个通道的 name 应不同。",
                           field="GRIDMAP_OUTBOX_CHANNELS", code="bad_setting")
    return tuple(channels)


def _channel(index: int, item: Any) -> Channel:
    if not isinstance(item, dict):
        raise _bad(index, "整体", "应为 JSON 对象。")
    name, kind = str(item.get("name", "")), str(item.get("kind", ""))
    if not _NAME.match(name):
        raise _bad(index, "name", "应为 1–64 个小写字母、数字、- 或 _。")
    if kind not in CHANNEL_KINDS:
        raise _bad(index, "kind", f"应为 {'、'.join(CHANNEL_KINDS)} 之一。")
    url = str(item.get("url", ""))
    if kind != "email" and not url.startswith(("http://", "https://")):
        raise _bad(index, "url", "应为 http:// 或 https:// 开头的地址（机器人的 webhook 地址）。")
    recipients = item.get("recipients", ["*"])
    to = item.get("to", [])
    if not isinstance(recipients, list) or not recipients or not all(isinstance(r, str) and r for r in recipients):
        raise _bad(index, "recipients", "应为非空的编码列表，如 [\"GA\", \"1101*\"]，[\"*\"] 表示全部。")
    if not isinstance(to, list) or not all(isinstance(a, str) and _EMAIL.match(a) for a in to):
        raise _bad(index, "to", "应为电子邮件地址列表。")
    return Channel(name=name, kind=kind, url=url, secret=str(item.get("secret", "")), recipients=tuple(recipients),
                   to=tuple(to))


def backoff(attempts: int, base_seconds: float) -> timedelta:
    """The wait before attempt ``attempts + 1``: base, 2 × base, 4 × base … at most an hour.

    >>> [backoff(n, 30).total_seconds() for n in (1, 2, 3)]
    [30.0, 60.0, 120.0]
    >>> backoff(20, 30)
    datetime.timedelta(seconds=3600)
    """
    return min(timedelta(seconds=base_seconds * 2 ** min(max(attempts - 1, 0), 30)), BACKOFF_CAP)


def message(notice: Notice) -> tuple[str, str]:
    """(subject, text) in Chinese: the kind's title, then the payload's fields one a line.

    >>> message(Notice(7, "overdue", "GA", {"case": "C1", "step": "resolve"}, datetime(2026, 1, 1)))[0]
    '【网格化管理】案件超期'
    """
    title = TITLES.get(notice.kind, notice.kind)
    lines = [f"【网格化管理】{title}"]
    for key, value in notice.payload.items():
        if value is None or key == "channel":
            continue
        if isinstance(value, bool):
            value = "是" if value else "否"
        if isinstance(value, list):
            value = "、".join(str(v) for v in value)
        lines.append(f"{FIELDS.get(key, key)}：{value}")
    lines.append(f"通知编号：{notice.id}")
    return lines[0], "\n".join(lines)


def request_body(channel: Channel, notice: Notice) -> dict[str, Any]:
    """The JSON a channel's receiver expects: the text message of the WeCom and DingTalk group
    robots, or the whole notice for a generic webhook."""
    if channel.kind in ("wecom", "dingtalk"):
        return {"msgtype": "text", "text": {"content": message(notice)[1]}}
    return {"id": notice.id, "kind": notice.kind, "recipient": notice.recipient, "payload": notice.payload,
            "created_at": notice.created_at.isoformat(), "text": message(notice)[1]}


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """DingTalk's 加签: ``timestamp`` and ``sign`` = base64(HMAC-SHA256(secret, "timestamp\\nsecret"))
    added to the robot's URL (DingTalk refuses a timestamp more than an hour off)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}timestamp={timestamp_ms}&sign={sign}"
