"""Logs and request ids: one JSON line per log record, each carrying the id of the request it was
written for, and one access line per request.

Every request gets an id: the caller's ``X-Request-ID`` when it is a sane token (1–64 characters
of ``A-Z a-z 0-9 . _ -``), a new random one otherwise. The id is echoed in the response's
``X-Request-ID`` header and set in a context variable for as long as the request runs (body
included), and a log record factory copies it onto every record made meanwhile: lines from our
code, Flask's "Exception on …", warnings (SQLAlchemy's among them, captured as logger
``py.warnings``) and waitress all carry it, whatever handler writes them.

The access line (logger ``gridmap.access``) names the route (the URL rule, so ids in paths do not
make a line unsearchable) and the query parameter *names* only: values may carry tokens (Open311's
``api_key``). Nothing logs headers, cookies or bodies.

Logging is configured once per process (``configure_logging``), to stderr, as JSON
(``GRIDMAP_LOG_FORMAT=json``, the default) or as text for people (``text``).

>>> sane_request_id("abc-123.x_Y"), sane_request_id("bad id\\n"), sane_request_id("x" * 65)
('abc-123.x_Y', None, None)
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, request

__all__ = ["ACCESS_LOGGER", "REQUEST_ID_HEADER", "JsonFormatter", "TextFormatter", "configure_logging",
           "current_request_id", "init_app", "sane_request_id"]

REQUEST_ID_HEADER = "X-Request-ID"
ACCESS_LOGGER = "gridmap.access"
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
#: A client may send many parameter names; the line keeps this many, each cut to NAME_MAX.
QUERY_NAMES_MAX = 20
NAME_MAX = 64
#: Where the Flask layer leaves what only it knows (the URL rule, the user) for the WSGI wrapper.
_ROUTE_KEY = "gridmap.route"
_USER_KEY = "gridmap.user"
UNMATCHED_ROUTE = "unmatched"

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("gridmap_request_id", default=None)
_configured = False


def current_request_id() -> str | None:
    """The id of the request being handled in this thread, or None outside requests."""
    return _request_id.get()


def sane_request_id(value: str | None) -> str | None:
    """The caller's id if it is safe to log and echo, else None."""
    return value if value and _SANE_ID.fullmatch(value) else None


# --- formatting -------------------------------------------------------------------------------

#: Attributes every LogRecord has; anything else on a record came from ``extra=`` and is a field.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601, UTC), level, logger, message, request_id, pid, the
    record's ``extra`` fields, and the traceback as one string field."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "pid": record.process,  # which gunicorn worker
        }
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["traceback"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For people at a terminal: ``2026-11-28 09:30:00,123 INFO gridmap.access [id] GET / 200 …``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = None
        return super().format(record)


def configure_logging(fmt: str = "json", level: str = "INFO") -> None:
    """Send every logger's records to stderr in ``fmt`` (json | text), once per process; later
    calls change nothing (several apps in one process share the process's stderr)."""
    global _configured
    if _configured:
        return
    if fmt not in ("json", "text"):
        raise ValueError(f"设置 GRIDMAP_LOG_FORMAT={fmt!r} 无效：应为 json 或 text。")
    numeric = logging.getLevelName(str(level).upper())
    if not isinstance(numeric, int):
        raise ValueError(f"设置 GRIDMAP_LOG_LEVEL={level!r} 无效：应为 DEBUG、INFO、WARNING、ERROR 之一。")
    _install_record_factory()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(numeric)
    logging.captureWarnings(True)  # SQLAlchemy's and the drivers' warnings become lines with the request id
    # SQLAlchemy at INFO writes every statement with its parameters (password hashes, token
    # hashes, people's words): never, whatever GRIDMAP_LOG_LEVEL says.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    _configured = True


def _install_record_factory() -> None:
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = _request_id.get()
        return record

    logging.setLogRecordFactory(factory)


# --- requests ---------------------------------------------------------------------------------

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
#: Called when a response is finished: (method, route, status, seconds).
Recorder = Callable[[str, str, int, float], None]


class RequestObserver:
    """WSGI wrapper around the Flask app: request id, timing, in-flight count, access line.

    It wraps the whole app, so it sees responses that error handlers made and requests Flask
    refused; the access line is written when the body has been sent (or the server closed it).
    """

    def __init__(self, app: WSGIApp, *, started: Callable[[], None], finished: Recorder) -> None:
        self.app = app
        self.started = started
        self.finished = finished
        self.log = logging.getLogger(ACCESS_LOGGER)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request_id = sane_request_id(environ.get("HTTP_X_REQUEST_ID")) or uuid.uuid4().hex
        environ["HTTP_X_REQUEST_ID"] = request_id
        exchange = _Exchange(self, environ, request_id, start_response)
        token = _request_id.set(request_id)
        try:
            self.started()
            body = self.app(environ, exchange.start_response)
        except BaseException:
            exchange.status = 500
            exchange.finish()
            raise
        finally:
            _request_id.reset(token)
        return _Body(body, exchange)

    def access_line(self, exchange: _Exchange, seconds: float) -> None:
        environ = exchange.environ
        status = exchange.status
        query = environ.get("QUERY_STRING", "")
        names = sorted({part.split("=", 1)[0][:NAME_MAX] for part in query.split("&") if part})[:QUERY_NAMES_MAX]
        path = environ.get("PATH_INFO", "")
        duration_ms = round(seconds * 1000, 2)
        self.log.log(
            logging.WARNING if status >= 500 else logging.INFO,
            "%s %s %s %.1f ms", environ.get("REQUEST_METHOD"), path, status, duration_ms,
            extra={"method": environ.get("REQUEST_METHOD"), "path": path, "query": names,
                   "route": environ.get(_ROUTE_KEY, UNMATCHED_ROUTE), "status": status,
                   "duration_ms": duration_ms, "user": environ.get(_USER_KEY),
                   "remote_addr": environ.get("REMOTE_ADDR")},
        )


class _Exchange:
    """One request's bookkeeping between the WSGI call and the end of its body."""

    def __init__(self, observer: RequestObserver, environ: dict[str, Any], request_id: str,
                 start_response: StartResponse) -> None:
        self.observer = observer
        self._start = start_response
        self.environ = environ
        self.request_id = request_id
        self.began = time.perf_counter()
        self.status = 500
        self.done = False

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        self.status = int(status.split(" ", 1)[0])
        headers = [(k, v) for k, v in headers if k.lower() != REQUEST_ID_HEADER.lower()]
        headers.append((REQUEST_ID_HEADER, self.request_id))
        return self._start(status, headers, exc_info)

    def finish(self) -> None:
        if self.done:
            return
        self.done = True
        seconds = time.perf_counter() - self.began
        route = self.environ.get(_ROUTE_KEY, UNMATCHED_ROUTE)
        try:
            self.observer.access_line(self, seconds)
        finally:
            self.observer.finished(self.environ.get("REQUEST_METHOD", ""), route, self.status, seconds)


class _Body:
    """The response body, passed through; the request id is current while it is produced, and
    the exchange finishes when it is exhausted or closed."""

    def __init__(self, body: Iterable[bytes], exchange: _Exchange) -> None:
        self.body = body
        self.exchange = exchange

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self.body)
        while True:
            token = _request_id.set(self.exchange.request_id)
            try:
                chunk = next(chunks)
            except StopIteration:
                self.exchange.finish()
                return
            finally:
                _request_id.reset(token)
            yield chunk

    def close(self) -> None:
        token = _request_id.set(self.exchange.request_id)
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.exchange.finish()
            _request_id.reset(token)


def _note_route_and_user(_exc: BaseException | None) -> None:
    """After the handler: leave the URL rule and the user (if one was loaded) for the access line.
    Reads Flask-Login's cache only: a public request never loads a user (nor touches the database)."""
    environ = request.environ
    environ[_ROUTE_KEY] = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
    login = g.get("_login_user")
    user = getattr(login, "user", None)
    environ[_USER_KEY] = getattr(user, "username", None)


def init_app(app: Flask) -> None:
    """Configure the process's logging (first app only), wrap the app with ``RequestObserver``
    and serve ``/metrics``."""
    from flask.logging import default_handler

    from webmap import metrics

    configure_logging(app.config.get("GRIDMAP_LOG_FORMAT") or "json", app.config.get("GRIDMAP_LOG_LEVEL") or "INFO")
    app.logger.removeHandler(default_handler)  # the root handler writes Flask's lines, as JSON
    app.teardown_request(_note_route_and_user)
    observer = RequestObserver(app.wsgi_app, started=metrics.request_started, finished=metrics.request_finished)
    app.wsgi_app = observer  # type: ignore[method-assign]
    metrics.init_app(app)
