"""Staff login: the password check, lock-outs, sessions held in the database, the login gate on every page.

A login touches the database only in short steps and never while it checks the password hash,
which takes about a tenth of a second (scrypt): on SQLite an open write transaction holds the one write
lock, and every follower's message waits for it. The attempt is counted first (bot.console.lockout),
so no more checks run than the limits allow however many arrive at once; the check runs with no
transaction open; a correct password then opens the session in one more short write.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import math
from urllib.parse import urlsplit

from flask import (Blueprint, current_app, flash, g, redirect, render_template, request, session,
                   url_for)
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.security import check_password_hash, generate_password_hash

from bot.config import Config
from bot.console import lockout
from bot.console import staff_sessions
from bot.storage.db import describe_db_error

logger = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

OPEN_ENDPOINTS = ("admin.auth.login", "admin.auth.logout")
BUSY_LOGIN = "系统繁忙，请稍后再试：数据库暂时无法访问，这次登录没有完成。"
BUSY_PAGE = "系统繁忙，请稍后再试：数据库暂时无法访问，请过一会儿刷新页面。"
BUSY_LOGOUT = "系统繁忙，请稍后再试：数据库暂时无法访问，这次退出没有完成，请过一会儿再点“退出”。"


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


def _session_live() -> bool:
    """Tell whether the cookie names a live staff session, once per request (SQLAlchemyError: cannot say)."""
    if "staff_live" not in g:
        runtime = current_app.extensions["bot"]
        session_id = session.get("sid")
        live = False
        if isinstance(session_id, str) and session_id:
            with runtime.db.reader() as db:
                live = staff_sessions.is_live(session=db, session_id=session_id, now=runtime.clock(),
                                              mark=current_app.extensions["admin_password_mark"])
        if not live and (session_id or session.get("staff")):
            session.clear()  # logged out, expired or another password: pages must stop showing staff links
        g.staff_live = live
    return g.staff_live


def logged_in() -> bool:
    """Tell whether this request carries a live staff session (no, while the database cannot say)."""
    try:
        return _session_live()
    except SQLAlchemyError as exc:
        logger.warning("staff session not checked, database unavailable: %s", describe_db_error(exc))
        return False


def login_redirect():
    """Send the visitor to the login page, coming back here afterwards."""
    return redirect(url_for("admin.auth.login", next=request.full_path.rstrip("?")))


def require_login():
    """Gate every console page: locked without a password, login page without a live session."""
    if not current_app.extensions.get("admin_password_hash"):
        return render_template("admin/no_password.html"), 503
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    try:
        if _session_live():
            return None
    except SQLAlchemyError as exc:
        logger.warning("staff session not checked, database unavailable: %s", describe_db_error(exc))
        return render_template("admin/busy.html", message=BUSY_PAGE), 503
    return login_redirect()


def _safe_next(target: str | None) -> str:
    """Return a local path to go back to, never another site."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("admin.dashboard.index")


def _local(moment: dt.datetime, config: Config) -> dt.datetime:
    return moment.replace(tzinfo=dt.timezone.utc).astimezone(config.activity.tz)


def _login_page(error: str, status: int):
    return render_template("admin/login.html", error=error, next=request.form.get("next", "")), status


def _refused_page(refusal: lockout.Refusal, config: Config, now: dt.datetime):
    """Answer a login refused without a password check: which lock, and until when."""
    admin = config.admin
    until = _local(refusal.until, config)
    if refusal.scope == lockout.EVERYONE:
        error = (f"这一分钟内各处登录的密码错误已达 {admin.max_failed_logins_per_minute} 次，为防止有人猜测密码，"
                 f"所有登录暂停到 {until:%H:%M}，请在那之后再试。")
    else:
        error = (f"连续 {admin.max_failed_logins} 次密码错误，本网络地址已被锁定，"
                 f"请在 {until:%H:%M} 之后再试（{admin.lockout_minutes} 分钟）。")
    body, status = _login_page(error, 429)
    wait = max(1, math.ceil((refusal.until - now).total_seconds()))
    return body, status, {"Retry-After": str(wait)}


def _check_login(address: str):
    """Count the attempt, check the password with no transaction open, and open the session if it is right."""
    runtime = current_app.extensions["bot"]
    config = runtime.config
    admin = config.admin
    now = runtime.clock()
    try:
        with runtime.db.reader() as db:
            lockout.check(session=db, address=address, now=now, admin=admin)
        with runtime.db.session() as db:
            reservation = lockout.reserve(session=db, address=address, now=now, admin=admin)
    except lockout.Refused as exc:
        return _refused_page(exc.refusal, config, now)
    # No transaction is open: followers' turns take the write lock while the hash is checked.
    if check_password_hash(current_app.extensions["admin_password_hash"], request.form.get("password", "")):
        with runtime.db.session() as db:
            lockout.give_back(session=db, address=address, now=now)
            session_id = staff_sessions.open_session(session=db, mark=current_app.extensions["admin_password_mark"],
                                                     now=now, lifetime=current_app.permanent_session_lifetime)
        session.clear()
        session.permanent = True
        session["staff"] = True
        session["sid"] = session_id
        logger.info("staff login from %s", address)
        return redirect(_safe_next(request.form.get("next")))
    logger.warning("failed staff login from %s (%d in a row)", address, reservation.failures)
    if reservation.minute_failures >= admin.max_failed_logins_per_minute:
        logger.warning("%d failed staff logins this minute: every login refused for the rest of it",
                       reservation.minute_failures)
    left = admin.max_failed_logins - reservation.failures
    if left <= 0:
        return _refused_page(lockout.Refusal(lockout.ADDRESS, reservation.until), config, now)
    return _login_page(f"密码不正确。再错 {left} 次将锁定 {admin.lockout_minutes} 分钟。", 401)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form and check the password; a database that cannot answer gets a busy page, never a 500."""
    if request.method != "POST":
        return render_template("admin/login.html", error="", next=request.args.get("next", ""))
    address = request.remote_addr or "unknown"
    try:
        return _check_login(address)
    except SQLAlchemyError as exc:
        logger.warning("staff login from %s not completed, database unavailable: %s", address, describe_db_error(exc))
        return _login_page(BUSY_LOGIN, 503)


@bp.post("/logout")
def logout():
    """End the staff session: its row goes, so no copy of the cookie opens the console again."""
    session_id = session.get("sid")
    if isinstance(session_id, str) and session_id:
        runtime = current_app.extensions["bot"]
        try:
            with runtime.db.session() as db:
                staff_sessions.end_session(session=db, session_id=session_id)
        except SQLAlchemyError as exc:
            logger.warning("staff logout not completed, database unavailable: %s", describe_db_error(exc))
            return render_template("admin/busy.html", message=BUSY_LOGOUT), 503
    session.clear()
    flash("已退出登录。")
    return redirect(url_for("admin.auth.login"))
