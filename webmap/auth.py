"""Sign-in: session cookies for people (login page, CSRF), bearer tokens for API clients.

Every endpoint needs a signed-in user except the few in ``PUBLIC_ENDPOINTS``. Unsafe requests
(POST, PUT, PATCH, DELETE) made with a session cookie must carry the CSRF token (form field
``csrf_token`` or header ``X-CSRFToken``); requests with ``Authorization: Bearer …`` need none,
since a browser never adds that header by itself.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, session, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from geo.domain.errors import NotFound, Unauthorized
from geo.domain.permissions import User
from geo.services import accounts
from webmap.db import commit, get_session
from webmap.errors import render_error

__all__ = ["PUBLIC_ENDPOINTS", "bp", "current", "init_app"]

bp = Blueprint("auth", __name__)

#: Endpoints anyone may call without signing in.
PUBLIC_ENDPOINTS = frozenset({
    "auth.login", "static", "health.healthz", "health.readyz", "api-docs.openapi_json", "api-docs.openapi_swagger_ui",
    # /metrics decides for itself: this machine, the metrics token or an admin (webmap/metrics.py).
    "metrics.metrics",
    # Open311 is a public interface by its specification: reads are open, POST needs api_key.
    "open311.discovery", "open311.services", "open311.service_definition", "open311.post_request",
    "open311.get_requests", "open311.get_request", "open311.token",
})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

login_manager = LoginManager()
csrf = CSRFProtect()
#: Sign-in attempts per client address (beside each account's own lock): one address cannot try
#: many accounts, nor keep one locked by itself. Counted per worker process (memory storage).
limiter = Limiter(key_func=get_remote_address, default_limits=[], storage_uri="memory://",
                  strategy="moving-window")


class LoginUser(UserMixin):
    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        # "id.epoch": a cookie from before the user last signed out names an old epoch.
        return f"{self.user.id}.{self.user.session_epoch}"


@login_manager.user_loader
def _load_user(session_id: str) -> LoginUser | None:
    try:
        user_id, epoch = (int(part) for part in session_id.split("."))
        user = accounts.load_user(get_session(), user_id)
        return LoginUser(user) if user.session_epoch == epoch else None
    except (NotFound, ValueError):
        return None


@login_manager.request_loader
def _load_from_token(req: Any) -> LoginUser | None:
    header = req.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    user = accounts.user_from_token(get_session(), header[7:].strip())
    if user is None:
        return None
    g.token_auth = True
    if accounts.token_use_pending(get_session()):
        commit()  # last_used_at (once a minute), kept whatever the request does next
    return LoginUser(user)


def current() -> User:
    """The signed-in user (every non-public endpoint has one)."""
    if not current_user.is_authenticated:
        raise Unauthorized("请先登录。", field="session", code="unauthorized")
    return current_user.user


#: A signed-in cookie session remembers when it was last used, to the minute.
_SEEN_STEP_S = 60
_clock = time.time  # tests move it


def _expire_idle_session() -> None:
    """A cookie session unused for GRIDMAP_SESSION_IDLE_MINUTES ends: a browser left open on a
    shared office computer does not stay signed in (tokens are not sessions and do not expire so)."""
    if g.get("token_auth") or "_user_id" not in session:
        return
    now = int(_clock())
    seen = session.get("seen")
    if isinstance(seen, int) and now - seen > int(current_app.config["GRIDMAP_SESSION_IDLE_MINUTES"]) * 60:
        logout_user()
        session.clear()
        return
    if not isinstance(seen, int) or now - seen >= _SEEN_STEP_S:
        session["seen"] = now


def _guard() -> WerkzeugResponse | None:
    """Before every request: sign-in required (except public endpoints), CSRF for cookie sessions."""
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        if request.method not in _SAFE_METHODS and request.endpoint == "auth.login":
            csrf.protect()
        return None
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        # The token is the whole identity: a cookie the client kept from an earlier response (a page
        # puts its CSRF token in the session) must not get in the way. Without this, Flask-Login's
        # strong session protection would clear that cookie session and never ask the token.
        session.clear()
    _expire_idle_session()
    if not current_user.is_authenticated:
        # API calls and map tiles (fetched by the map, never opened as a page) get a 401, not the login page.
        if request.path.startswith(("/api/", "/tiles/")) or request.accept_mimetypes.best == "application/json":
            raise Unauthorized("请先登录，或在请求头带上 Authorization: Bearer <令牌>。", field="authorization")
        return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
    if request.method not in _SAFE_METHODS and not g.get("token_auth"):
        csrf.protect()
    return None


def _csrf_failed(exc: CSRFError) -> Any:
    return render_error(400, "csrf", "表单已过期或缺少 CSRF 令牌，请刷新页面后重试。", "csrf_token")


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请填写用户名"), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired("请填写密码"), Length(max=256)])


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a person to another host after login."""
    if not target:
        return url_for("pages.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("pages.index")
    return target


def _login_rate() -> str:
    return str(current_app.config["GRIDMAP_LOGIN_RATE"])


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_rate, methods=["POST"], error_message="登录尝试过于频繁，请稍后再试。")
def login() -> Any:
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(get_session(), form.username.data, form.password.data)
        except Unauthorized as exc:
            commit()  # keep the failure count
            error = exc.message
        else:
            commit()
            session.clear()  # no session fixation: a fresh session for the signed-in user
            login_user(LoginUser(user))
            return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        error = "请填写用户名和密码。"
    status = 401 if error else 200
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/logout")
def logout() -> WerkzeugResponse:
    """Sign out: this user's session cookies, including copies of this one, stop working everywhere."""
    if current_user.is_authenticated and not g.get("token_auth"):
        accounts.end_sessions(get_session(), current_user.user.id)
        commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # _guard decides when to check
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the session's life
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = bool(app.config.get("GRIDMAP_SECURE_COOKIES"))
    app.config["REMEMBER_COOKIE_HTTPONLY"] = True
    login_manager.session_protection = "strong"
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)  # a fresh memory store for each app
    app.before_request(_guard)
    app.register_error_handler(CSRFError, _csrf_failed)
    app.register_blueprint(bp)
