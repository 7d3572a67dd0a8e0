"""The staff console (/admin) and the browser chat window (/simulator)."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, Flask

from bot.runtime import Runtime
from bot.console import auth
from bot.console import banks
from bot.console import channels
from bot.console import csrf
from bot.console import dashboard
from bot.console import fairplay
from bot.console import pushes
from bot.console import results
from bot.console import simulator
from bot.console import staff_sessions
from bot.console import units

admin = Blueprint("admin", __name__, url_prefix="/admin")
admin.before_request(auth.require_login)
admin.before_request(csrf.check_token)
for part in (auth.bp, dashboard.bp, banks.bp, pushes.bp, results.bp, fairplay.bp, units.bp, channels.bp):
    admin.register_blueprint(part)


def register_admin(app: Flask, runtime: Runtime) -> None:
    """Mount the staff console and the simulator, and set up the signed session cookie."""
    config = runtime.config
    app.secret_key = auth.session_secret(config)
    app.config.update(
        SESSION_COOKIE_NAME="ipweek_admin",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.section("admin").get("cookie_secure") is True,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=12),
    )
    app.extensions["admin_password_hash"] = auth.password_hash(config)
    # Stored with each session: sessions opened under another password (a restart with a new one) end.
    app.extensions["admin_password_mark"] = staff_sessions.password_mark(secret_key=app.secret_key,
                                                                         password=config.admin.password)
    app.jinja_env.globals["csrf_token"] = csrf.token
    tz = config.activity.tz
    # Stored times are naive UTC; every page shows them in the activity's time zone.
    app.jinja_env.globals["local"] = lambda value: (value.replace(tzinfo=dt.timezone.utc).astimezone(tz)
                                                    if value else None)
    app.jinja_env.globals["activity"] = config.activity
    app.register_blueprint(admin)
    app.register_blueprint(simulator.bp)
