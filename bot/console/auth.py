"""Staff login: hashed password check, lock-out per client address, the login gate on every page."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import (Blueprint, current_app, flash, redirect, render_template, request, session,
                   url_for)
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from bot.config import Config
from bot.storage.models import KeyValue

logger = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

FAIL_PREFIX = "admin-fail:"
OPEN_ENDPOINTS = ("admin.auth.login", "admin.auth.logout")


def password_hash(config: Config) -> str:
    """Hash the configured password once at startup; empty when no password is set."""
    password = config.admin.password
    return generate_password_hash(password) if password else ""


def session_secret(config: Config) -> str:
    """Return the key that signs session cookies, the same in every worker."""
    if config.admin.secret_key:
        return config.admin.secret_key
    material = "\0".join((config.wechat.app_secret, config.wechat.token, config.wechat.app_id)).encode("utf-8")
    return hmac.new(material, b"admin-session\0" + config.admin.password.encode("utf-8"),
                    hashlib.sha256).hexdigest()


def logged_in() -> bool:
    """Tell whether this request carries a staff session."""
    return bool(session.get("staff"))


def login_redirect():
    """Send the visitor to the login page, coming back here afterwards."""
    return redirect(url_for("admin.auth.login", next=request.full_path.rstrip("?")))


def require_login():
    """Gate every console page: locked without a password, login page without a session."""
    if not current_app.extensions.get("admin_password_hash"):
        return render_template("admin/no_password.html"), 503
    if request.endpoint in OPEN_ENDPOINTS or logged_in():
        return None
    return login_redirect()


@dataclass(frozen=True)
class Lockout:
    """Failed logins from one address and until when it is refused (None: not locked)."""

    failures: int
    locked_until: dt.datetime | None


def lockout_state(*, session: Session, address: str, now: dt.datetime, limit: int) -> Lockout:
    """Return how many recent failures an address has and whether it is locked."""
    row = session.get(KeyValue, FAIL_PREFIX + address)
    if row is None or (row.expires_at is not None and row.expires_at <= now):
        return Lockout(failures=0, locked_until=None)
    failures = int(row.value)
    return Lockout(failures=failures, locked_until=row.expires_at if failures >= limit else None)


def record_failure(*, session: Session, address: str, now: dt.datetime, minutes: int) -> int:
    """Count one more failed login for an address; the count lapses `minutes` after the last one."""
    row = session.get(KeyValue, FAIL_PREFIX + address, with_for_update=True)
    expires = now + dt.timedelta(minutes=minutes)
    if row is None:
        session.add(KeyValue(key=FAIL_PREFIX + address, value="1", expires_at=expires))
        return 1
    fresh = row.expires_at is not None and row.expires_at <= now
    row.value = str(1 if fresh else int(row.value) + 1)
    row.expires_at = expires
    return int(row.value)


def clear_failures(*, session: Session, address: str) -> None:
    """Forget an address's failed logins after a successful one."""
    row = session.get(KeyValue, FAIL_PREFIX + address)
    if row is not None:
        session.delete(row)


def _safe_next(target: str | None) -> str:
    """Return a local path to go back to, never another site."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("admin.dashboard.index")


def _local(moment: dt.datetime, config: Config) -> dt.datetime:
    return moment.replace(tzinfo=dt.timezone.utc).astimezone(config.activity.tz)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form and check the password."""
    runtime = current_app.extensions["bot"]
    admin = runtime.config.admin
    address = request.remote_addr or "unknown"
    now = runtime.clock()
    error = ""
    if request.method == "POST":
        with runtime.db.session() as db:
            state = lockout_state(session=db, address=address, now=now, limit=admin.max_failed_logins)
            if state.locked_until is None:
                if check_password_hash(current_app.extensions["admin_password_hash"],
                                       request.form.get("password", "")):
                    clear_failures(session=db, address=address)
                    target = _safe_next(request.form.get("next"))
                    session.clear()
                    session.permanent = True
                    session["staff"] = True
                    logger.info("staff login from %s", address)
                    return redirect(target)
                failures = record_failure(session=db, address=address, now=now, minutes=admin.lockout_minutes)
                logger.warning("failed staff login from %s (%d in a row)", address, failures)
                left = admin.max_failed_logins - failures
                if left > 0:
                    error = f"密码不正确。再错 {left} 次将锁定 {admin.lockout_minutes} 分钟。"
                state = lockout_state(session=db, address=address, now=now, limit=admin.max_failed_logins)
        if state.locked_until is not None:
            until = _local(state.locked_until, runtime.config)
            error = (f"连续 {admin.max_failed_logins} 次密码错误，本机已被锁定，"
                     f"请在 {until:%H:%M} 之后再试（{admin.lockout_minutes} 分钟）。")
            return render_template("admin/login.html", error=error, next=request.form.get("next", "")), 429
        return render_template("admin/login.html", error=error, next=request.form.get("next", "")), 401
    return render_template("admin/login.html", error=error, next=request.args.get("next", ""))


@bp.post("/logout")
def logout():
    """End the staff session."""
    session.clear()
    flash("已退出登录。")
    return redirect(url_for("admin.auth.login"))
