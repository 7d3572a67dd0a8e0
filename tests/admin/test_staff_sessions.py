"""Staff sessions live in the database: logging out, a new password or the end of the lifetime ends them,
whatever copies of the cookie are about."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.runtime import Runtime
from bot.storage.models import KeyValue
from tests.admin.conftest import PASSWORD, csrf_from, login
from tests.conftest import make_config

COOKIE = "ipweek_admin"
SHARED_KEY = "the-same-secret-key-in-every-worker"


def copied_cookie(client) -> str:
    return client.get_cookie(COOKIE).value


def replay(app, cookie: str):
    """A client that has nothing but a copy of someone's cookie."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie)
    return thief


def test_a_cookie_copied_before_logout_no_longer_opens_the_console(app, staff):
    cookie = copied_cookie(staff)
    colleague = app.test_client()
    assert login(colleague).status_code == 302
    assert replay(app, cookie).get("/admin/results/").status_code == 200
    assert staff.post("/admin/logout", data={"csrf_token": csrf_from(staff, "/admin/")}).status_code == 302
    thief = replay(app, cookie)
    response = thief.get("/admin/results/")
    assert response.status_code == 302 and response.location.startswith("/admin/login")
    assert thief.get("/simulator/").status_code == 302
    # The refused cookie is cleared: the login page no longer shows the staff menu.
    assert "退出" not in thief.get("/admin/login").get_data(as_text=True)
    # Logging out ends that session only.
    assert colleague.get("/admin/results/").status_code == 200


def test_a_session_ends_after_its_lifetime_even_if_its_cookie_is_kept(app, staff, clock):
    assert staff.get("/admin/").status_code == 200
    clock.advance(hours=11, minutes=59)
    assert staff.get("/admin/").status_code == 200
    clock.advance(minutes=2)
    assert staff.get("/admin/").status_code == 302


def test_the_database_holds_neither_the_cookie_nor_the_password(runtime, app, staff):
    with runtime.db.reader() as session:
        rows = session.scalars(select(KeyValue).where(KeyValue.key.startswith("admin-session:"))).all()
    assert len(rows) == 1
    stored = rows[0].key + rows[0].value
    session_id = app.session_interface.get_signing_serializer(app).loads(copied_cookie(staff))["sid"]
    assert session_id not in stored
    assert PASSWORD not in stored and app.extensions["admin_password_hash"] not in stored


class TestPasswordChange:
    @pytest.fixture
    def config_overrides(self):
        return {"admin": {"password": PASSWORD, "secret_key": SHARED_KEY, "max_failed_logins": 3}}

    def restarted(self, runtime, clock, password: str):
        """The app as another worker, or after a restart, with this password; the same database and secret key."""
        config = make_config({"admin": {"password": password, "secret_key": SHARED_KEY}}, runtime.db.url)
        app = create_app(runtime=Runtime(config, runtime.db, clock=clock))
        app.config["TESTING"] = True
        return app

    def test_a_new_password_ends_the_sessions_opened_with_the_old_one(self, runtime, clock, staff):
        cookie = copied_cookie(staff)
        # Another worker with the same password accepts the session ...
        assert replay(self.restarted(runtime, clock, PASSWORD), cookie).get("/admin/results/").status_code == 200
        # ... an app started with another password does not, though the cookie's signature is good.
        changed = self.restarted(runtime, clock, "a brand new password")
        response = replay(changed, cookie).get("/admin/results/")
        assert response.status_code == 302 and response.location.startswith("/admin/login")
        newcomer = changed.test_client()
        assert login(newcomer, "a brand new password").status_code == 302
        assert newcomer.get("/admin/results/").status_code == 200
