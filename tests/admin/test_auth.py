"""Login, lock-out, CSRF and the gate in front of every console page."""
from __future__ import annotations

import re

import pytest

from bot.storage.models import KeyValue
from tests.admin.conftest import PASSWORD, csrf_from, login

OPEN = {"admin.auth.login", "admin.auth.logout"}


def admin_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("admin.")]


def sample_url(rule) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", "x", rule.rule)


def test_every_console_page_needs_a_login(app, client):
    rules = admin_rules(app)
    assert len(rules) >= 10
    for rule in rules:
        if rule.endpoint in OPEN:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(sample_url(rule), method=method)
            assert response.status_code == 302, (method, rule.rule)
            assert response.location.startswith("/admin/login"), (method, rule.rule)


def test_login_page_and_cookie_flags(client):
    page = client.get("/admin/login")
    assert page.status_code == 200
    assert "工作人员登录" in page.get_data(as_text=True)
    response = login(client)
    assert response.status_code == 302 and response.location == "/admin/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/admin/").status_code == 200


def test_login_returns_to_the_page_asked_for_but_never_off_site(client):
    token = csrf_from(client)
    response = client.post("/admin/login", data={"csrf_token": token, "password": PASSWORD,
                                                 "next": "/admin/results/"})
    assert response.location == "/admin/results/"
    client.post("/admin/logout", data={"csrf_token": csrf_from(client, "/admin/")})
    token = csrf_from(client)
    response = client.post("/admin/login", data={"csrf_token": token, "password": PASSWORD,
                                                 "next": "//evil.example/steal"})
    assert response.location == "/admin/"


def test_wrong_password_is_refused(client):
    response = login(client, "guess")
    assert response.status_code == 401
    assert "密码不正确。再错 2 次将锁定 10 分钟。" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_lock_out_after_repeated_failures_then_lapse(client, clock):
    for _ in range(2):
        assert login(client, "guess").status_code == 401
    response = login(client, "guess")
    assert response.status_code == 429
    assert "连续 3 次密码错误，本网络地址已被锁定" in response.get_data(as_text=True)
    # Even the right password is refused while locked.
    assert login(client).status_code == 429
    assert client.get("/admin/").status_code == 302
    clock.advance(minutes=11)
    assert login(client).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_lock_out_is_kept_in_the_database(runtime, client):
    login(client, "guess")
    with runtime.db.reader() as session:
        row = session.get(KeyValue, "admin-fail:127.0.0.1")
    assert row is not None and row.value == "1"


def test_post_without_csrf_token_is_rejected(client, staff):
    assert client.post("/admin/login", data={"password": PASSWORD}).status_code == 400
    assert staff.post("/admin/banks/check", data={}).status_code == 400
    assert staff.post("/admin/results/draw", data={"rule": "top", "tiers": "3",
                                                   "csrf_token": "forged"}).status_code == 400


def test_logout_ends_the_session(staff):
    response = staff.post("/admin/logout", data={"csrf_token": csrf_from(staff, "/admin/")})
    assert response.status_code == 302
    assert staff.get("/admin/").status_code == 302


def test_webhook_needs_no_csrf_token(wechat):
    assert wechat.text("u-1", "帮助").status == 200


@pytest.mark.parametrize("config_overrides", [{"admin": {"password": ""}}])
def test_console_is_locked_without_a_password(client):
    for path in ("/admin/", "/admin/login", "/admin/results/"):
        response = client.get(path)
        assert response.status_code == 503
        text = response.get_data(as_text=True)
        assert "后台尚未设置密码" in text and "ADMIN_PASSWORD" in text
    assert client.post("/admin/login", data={"password": ""}).status_code == 503


class TestBehindAProxy:
    @pytest.fixture
    def config_overrides(self):
        return {"admin": {"password": PASSWORD, "max_failed_logins": 3, "lockout_minutes": 10},
                "server": {"trusted_proxies": 1}}

    def test_lock_out_follows_the_forwarded_client_address(self, runtime, client):
        """With server.trusted_proxies = 1 one person's wrong passwords do not lock out every colleague."""
        client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.7"
        for _ in range(3):
            login(client, "guess")
        assert login(client).status_code == 429
        client.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.9"
        assert login(client).status_code == 302
        with runtime.db.reader() as session:
            assert session.get(KeyValue, "admin-fail:203.0.113.7").value == "3"
            assert session.get(KeyValue, "admin-fail:127.0.0.1") is None
