"""Senders for the delivery channels of geo.domain.notices: an HTTP POST of JSON (WeCom and
DingTalk group robots, a generic webhook) and SMTP e-mail. Each either returns or raises
``DeliveryFailed`` with a reason short enough for ``gridmap outbox dead`` to show.

Receivers see a stable id on every attempt (the ``X-Gridmap-Notice`` header and ``id`` in a
webhook's body, the ``Message-ID`` of an e-mail) and can drop a repeat: delivery is at least once,
and only a crash between a receiver's answer and our commit repeats one.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

import requests

from geo.domain.notices import Channel, Notice, dingtalk_signed_url, message, request_body

__all__ = ["DeliveryFailed", "SmtpSettings", "send"]

#: Seconds to connect and to wait for an answer; a slow receiver is a failed attempt, retried later.
TIMEOUT = 10.0


class DeliveryFailed(Exception):
    """The receiver refused or could not be reached; the message says why."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str = ""
    port: int = 25
    user: str = ""
    password: str = ""
    sender: str = ""
    #: none | starttls | ssl
    security: str = "none"


def send(channel: Channel, notice: Notice, smtp: SmtpSettings) -> None:
    if channel.kind == "email":
        _email(channel, notice, smtp)
    else:
        _post(channel, notice)


def _post(channel: Channel, notice: Notice) -> None:
    url = channel.url
    if channel.kind == "dingtalk" and channel.secret:
        url = dingtalk_signed_url(url, channel.secret, int(time.time() * 1000))
    try:
        response = requests.post(url, json=request_body(channel, notice), timeout=TIMEOUT,
                                 headers={"X-Gridmap-Notice": str(notice.id)})
    except requests.RequestException as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}"[:500]) from exc
    if response.status_code >= 300:
        raise DeliveryFailed(f"HTTP {response.status_code}: {response.text[:300]}")
    if channel.kind in ("wecom", "dingtalk"):
        # The robots answer 200 with {"errcode": 0, "errmsg": "ok"}; anything else is a refusal
        # (a wrong key, a bad signature, the robot's rate limit of 20 messages a minute).
        try:
            body = response.json()
        except ValueError as exc:
            raise DeliveryFailed(f"robot answered non-JSON: {response.text[:300]}") from exc
        if not isinstance(body, dict) or body.get("errcode") != 0:
            raise DeliveryFailed(f"robot refused: {str(body)[:300]}")


def _email(channel: Channel, notice: Notice, smtp: SmtpSettings) -> None:
    if not smtp.host or not smtp.sender:
        raise DeliveryFailed("GRIDMAP_SMTP_HOST and GRIDMAP_SMTP_FROM must be set for an email channel")
    subject, body = message(notice)
    mail = EmailMessage()
    mail["Subject"] = subject
    mail["From"] = smtp.sender
    mail["To"] = ", ".join(channel.addresses(notice.recipient))
    mail["Date"] = formatdate(localtime=True)
    domain = smtp.sender.rpartition("@")[2] or "gridmap"
    mail["Message-ID"] = f"<outbox-{notice.id}.{channel.name}@{domain}>"
    mail.set_content(body)
    try:
        client: smtplib.SMTP
        if smtp.security == "ssl":
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=TIMEOUT, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=TIMEOUT)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if smtp.user:
                client.login(smtp.user, smtp.password)
            client.send_message(mail)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}"[:500]) from exc
