"""The requester (诉求人) of a case and the request type (诉求类型): the one home of both.

Hotline, Open311 and imported cases may carry the citizen's name, phone and e-mail and what kind
of request it is. Name, phone and e-mail are personal data: who sees them unmasked is decided in
``geo.domain.permissions.sees_requester``; everyone else gets ``masked``. This module checks and
normalises the values (one value at a time for the API and Open311, a whole column at a time for
bulk imports: both use the same patterns, and tests/test_requesters.py holds them equal) and masks.

>>> check_phone("+86 138-1234-5678")
'13812345678'
>>> mask_phone("13812345678")
'138****5678'
>>> mask_name("张三丰")
'张**'
>>> check_request_type("投诉")
'complaint'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from geo.domain.errors import InvalidInput

__all__ = [
    "EMAIL_MAX",
    "NAME_MAX",
    "REQUEST_TYPES",
    "Requester",
    "check_email",
    "check_name",
    "check_phone",
    "check_request_type",
    "check_requester",
    "email_column",
    "full_name",
    "mask_email",
    "mask_name",
    "mask_phone",
    "name_column",
    "phone_column",
    "request_type_column",
]

#: Request types (诉求类型) in the 12345 centre's order: code → Chinese name.
REQUEST_TYPES: dict[str, str] = {
    "consult": "咨询",
    "help": "求助",
    "complaint": "投诉",
    "report": "举报",
    "suggestion": "建议",
}
NAME_MAX = 64
EMAIL_MAX = 254

#: Written around a number and dropped before it is checked: spaces, hyphens, dots, brackets
#: (ASCII and full-width), then the country code (+86, 0086 or 86 before a mobile number).
_PHONE_NOISE = r"[\s\-－—.．()（）]"
_COUNTRY = r"^(?:\+86|0086|86(?=1\d{10}$))"
#: Mainland numbers: a mobile (1, then 3–9, then 9 digits); a landline with its area code (0 and
#: 2–3 digits, then 7–8 digits not starting with 0 or 1); a local landline (7–8 such digits).
#: A normalised phone is digits only: 11 for a mobile, at most 12 for a landline with its area code.
PHONE_PATTERN = re.compile(r"1[3-9]\d{9}|0\d{2,3}[2-9]\d{6,7}|[2-9]\d{6,7}")
_EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_PHONE_HINT = "应为 11 位手机号（如 13900001111）或固定电话（如 010-66668888）"
_TYPE_HINT = "、".join(f"{name}（{code}）" for code, name in REQUEST_TYPES.items())
#: Codes and Chinese names → code.
_TYPE_LOOKUP = {**{code: code for code in REQUEST_TYPES}, **{name: code for code, name in REQUEST_TYPES.items()}}


@dataclass(frozen=True)
class Requester:
    """Who asked (all optional): name, phone (digits only), e-mail."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None

    def __bool__(self) -> bool:
        return bool(self.name or self.phone or self.email)

    @property
    def contact(self) -> str | None:
        """Where a notice reaches the requester: the phone, else the e-mail."""
        return self.phone or self.email

    def masked(self) -> Requester:
        """What people without the right to see the requester get (DOMAIN: 138****1234)."""
        return replace(self, name=mask_name(self.name), phone=mask_phone(self.phone), email=mask_email(self.email))

    def as_dict(self, *, masked: bool) -> dict[str, Any]:
        shown = self.masked() if masked else self
        return {"name": shown.name, "phone": shown.phone, "email": shown.email, "masked": masked}


def _clean(value: Any) -> str:
    return "" if value is None else str(value).replace("\x00", "").strip()


def check_name(value: Any, *, field: str = "requester_name") -> str | None:
    text = _clean(value)
    if len(text) > NAME_MAX:
        raise InvalidInput(f"诉求人姓名 {field} 太长：{len(text)} 个字，最多 {NAME_MAX}。", field=field,
                           code="too_long")
    return text or None


def check_phone(value: Any, *, field: str = "requester_phone") -> str | None:
    """Digits only (13812345678, 01065123456); the number itself is never echoed in the message."""
    text = _clean(value)
    if not text:
        return None
    digits = re.sub(_COUNTRY, "", re.sub(_PHONE_NOISE, "", text))
    if not PHONE_PATTERN.fullmatch(digits):
        raise InvalidInput(f"联系电话 {field} 格式不对：{_PHONE_HINT}。", field=field, code="bad_phone")
    return digits


def check_email(value: Any, *, field: str = "requester_email") -> str | None:
    text = _clean(value)
    if not text:
        return None
    if len(text) > EMAIL_MAX or not _EMAIL_PATTERN.fullmatch(text):
        raise InvalidInput(f"电子邮箱 {field} 格式不对：应如 name@example.com，最多 {EMAIL_MAX} 个字符。", field=field,
                           code="bad_email")
    return text


def check_request_type(value: Any, *, field: str = "request_type") -> str | None:
    """A code or its Chinese name → the code; empty → None."""
    text = _clean(value)
    if not text:
        return None
    code = _TYPE_LOOKUP.get(text) or _TYPE_LOOKUP.get(text.lower())
    if code is None:
        raise InvalidInput(f"诉求类型 {field}={text!r} 无效，可选：{_TYPE_HINT}。", field=field,
                           code="bad_request_type")
    return code


def check_requester(name: Any = None, phone: Any = None, email: Any = None, *, prefix: str = "requester_") -> Requester:
    """All three checked; the fields are named ``<prefix>name`` and so on in errors."""
    return Requester(check_name(name, field=f"{prefix}name"), check_phone(phone, field=f"{prefix}phone"),
                     check_email(email, field=f"{prefix}email"))


def full_name(first: Any, last: Any) -> str:
    """A name from given and family name (Open311): 张 + 三 → 张三; John + Smith → John Smith.

    >>> full_name("三", "张"), full_name("John", "Smith")
    ('张三', 'John Smith')
    """
    first, last = _clean(first), _clean(last)
    if any(ord(ch) > 0x2E7F for ch in first + last):  # CJK: family name first, no space
        return last + first
    return " ".join(part for part in (first, last) if part)


def mask_name(name: str | None) -> str | None:
    """First character, then one * for each other character (at least one)."""
    if not name:
        return name
    return name[0] + "*" * max(len(name) - 1, 1)


def mask_phone(phone: str | None) -> str | None:
    """The last four digits, and the first three of a number with an area code or a mobile prefix."""
    if not phone:
        return phone
    head = phone[:3] if len(phone) >= 11 else ""
    return head + "*" * max(len(phone) - len(head) - 4, 4) + phone[-4:]


def mask_email(email: str | None) -> str | None:
    if not email:
        return email
    local, _, domain = email.partition("@")
    return (local[:1] + "***@" + domain) if domain else mask_name(email)


# --- whole columns (bulk import): the same rules, vectorised ----------------------------------------


def _clean_column(values: pd.Series) -> pd.Series:
    return values.fillna("").astype(str).str.replace("\x00", "", regex=False).str.strip()


def _kept(values: pd.Series, keep: pd.Series) -> pd.Series:
    """``values`` where ``keep``, else None (never NaN: these go to text columns)."""
    out = values.to_numpy(dtype=object, copy=True)
    out[~keep.to_numpy(dtype=bool)] = None
    return pd.Series(out, index=values.index, dtype="object")


def name_column(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(names, None where empty; a mask of the rows whose name is longer than ``NAME_MAX``)."""
    text = _clean_column(values)
    bad = text.str.len() > NAME_MAX
    return _kept(text, (text != "") & ~bad), bad


def phone_column(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(normalised phones, None where empty; a mask of the rows whose phone is not a mainland number)."""
    text = _clean_column(values)
    plain = text.str.fullmatch(PHONE_PATTERN.pattern)  # most exports: digits only, nothing to normalise
    rest = ~plain & (text != "")
    digits = text.copy()
    digits[rest] = text[rest].str.replace(_PHONE_NOISE, "", regex=True).str.replace(_COUNTRY, "", regex=True)
    bad = rest & ~digits.str.fullmatch(PHONE_PATTERN.pattern)
    return _kept(digits, plain | (rest & ~bad)), bad


def email_column(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(e-mails, None where empty; a mask of the rows whose e-mail is malformed or too long)."""
    text = _clean_column(values)
    empty = text == ""
    bad = ~empty & ((text.str.len() > EMAIL_MAX) | ~text.str.fullmatch(_EMAIL_PATTERN.pattern))
    return _kept(text, ~empty & ~bad), bad


def request_type_column(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(codes, None where empty; a mask of the rows whose type is neither a code nor a Chinese name).
    A handful of distinct values: each is checked once by ``check_request_type`` and spread to its rows."""
    index, uniques = pd.factorize(values.fillna(""), use_na_sentinel=False)
    checked = []
    for value in uniques:
        try:
            checked.append((check_request_type(value), False))
        except InvalidInput:
            checked.append((None, True))
    codes = np.array([c for c, _ in checked] or [None], dtype=object)[index]
    bad = np.array([b for _, b in checked] or [False], dtype=bool)[index]
    return pd.Series(codes, index=values.index, dtype="object"), pd.Series(bad, index=values.index)
