"""Login attempts: the password check runs outside any write transaction, the counts hold under
concurrency, a ceiling across all addresses, and a busy or absent database gets a busy page."""
from __future__ import annotations

import collections
import fcntl
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot.console import auth
from bot.runtime import Runtime
from bot.storage.db import Database
from tests.admin.conftest import PASSWORD, csrf_from, login
from tests.conftest import make_config

BUSY = "系统繁忙，请稍后再试"
LOCKED = "本网络地址已被锁定"
EVERYONE_PAUSED = "所有登录暂停到"


@pytest.fixture
def hash_checks(monkeypatch):
    """Count the password hash checks the login runs (each slowed a little, as a real one is slow)."""
    real = auth.check_password_hash
    calls = []
    lock = threading.Lock()

    def counted(stored, given):
        with lock:
            calls.append(given)
        time.sleep(0.05)
        return real(stored, given)

    monkeypatch.setattr(auth, "check_password_hash", counted)
    return calls


def post_login(client, password: str, address: str):
    return client.post("/admin/login", data={"csrf_token": csrf_from(client), "password": password},
                       environ_overrides={"REMOTE_ADDR": address})


def post_at_once(app, addresses: list[str]) -> list[tuple[int, str]]:
    """Send one wrong password from each address, all at the same moment; return (status, page) for each."""
    clients = [app.test_client() for _ in addresses]
    tokens = [csrf_from(c) for c in clients]
    start = threading.Barrier(len(addresses))

    def send(i):
        start.wait()
        response = clients[i].post("/admin/login", data={"csrf_token": tokens[i], "password": "guess"},
                                   environ_overrides={"REMOTE_ADDR": addresses[i]})
        return response.status_code, response.get_data(as_text=True)

    with ThreadPoolExecutor(max_workers=len(addresses)) as pool:
        return list(pool.map(send, range(len(addresses))))


class TestConcurrentAttempts:
    @pytest.fixture
    def config_overrides(self):
        return {"admin": {"password": PASSWORD, "max_failed_logins": 5, "lockout_minutes": 10,
                          "max_failed_logins_per_minute": 5}}

    def test_fifteen_at_once_from_one_address_get_exactly_five_checks(self, app, hash_checks):
        results = post_at_once(app, ["203.0.113.7"] * 15)
        assert len(hash_checks) == 5
        statuses = collections.Counter(status for status, _ in results)
        # Four are told how many tries are left; the fifth and the ten never checked are told of the lock.
        assert statuses == {401: 4, 429: 11}
        assert all(LOCKED in page for status, page in results if status == 429)

    def test_fifteen_at_once_from_fifteen_addresses_stop_at_the_ceiling(self, app, hash_checks):
        results = post_at_once(app, [f"198.51.100.{i}" for i in range(1, 16)])
        assert len(hash_checks) == 5
        assert collections.Counter(status for status, _ in results) == {401: 5, 429: 10}
        assert all(EVERYONE_PAUSED in page for status, page in results if status == 429)


class TestCeilingForEveryone:
    @pytest.fixture
    def config_overrides(self):
        return {"admin": {"password": PASSWORD, "max_failed_logins": 5, "lockout_minutes": 10,
                          "max_failed_logins_per_minute": 3}}

    def test_wrong_passwords_from_many_addresses_pause_every_login_until_the_minute_ends(self, client, clock,
                                                                                           hash_checks):
        # A correct password gives its count back: staff logging in never fill the ceiling.
        assert post_login(client, PASSWORD, "10.0.0.1").status_code == 302
        for i in (2, 3, 4):
            assert post_login(client, "guess", f"10.0.0.{i}").status_code == 401
        refused = post_login(client, "guess", "10.0.0.5")
        assert refused.status_code == 429
        page = refused.get_data(as_text=True)
        # 02:00 UTC is 10:00 in Shanghai: the pause lasts to the end of that minute.
        assert "这一分钟内各处登录的密码错误已达 3 次" in page and "所有登录暂停到 10:01" in page
        assert refused.headers["Retry-After"] == "60"
        # Even the right password, from an address that never failed, waits for the minute to end.
        assert post_login(client, PASSWORD, "10.0.0.6").status_code == 429
        assert len(hash_checks) == 4
        clock.advance(minutes=1)
        assert post_login(client, PASSWORD, "10.0.0.6").status_code == 302
        assert client.get("/admin/").status_code == 200


class TestSQLiteWriteLock:
    """SQLite has one write lock, and every follower's message needs it."""

    @pytest.fixture
    def db_url(self, tmp_path):
        return f"sqlite:///{tmp_path / 'bot.db'}"

    @pytest.fixture
    def runtime(self, db_url, config_overrides, clock):
        db = Database(db_url, lock_wait_seconds=0.2)
        db.create_all()
        yield Runtime(make_config(config_overrides, db_url), db, clock=clock)
        db.dispose()

    @contextmanager
    def follower_write(self, runtime):
        """Write as a follower's turn does: take the writer queue and SQLite's write lock, without waiting."""
        with open(runtime.db.lock_path, "a+b") as queue:
            fcntl.flock(queue, fcntl.LOCK_EX | fcntl.LOCK_NB)
            other = sqlite3.connect(make_url(runtime.db.url).database, timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("INSERT INTO kv_store (key, value) VALUES ('follower-turn', 'written')")
                yield
                other.execute("COMMIT")
            finally:
                other.close()
                fcntl.flock(queue, fcntl.LOCK_UN)

    def test_the_password_is_checked_while_followers_can_write(self, runtime, client, monkeypatch):
        real = auth.check_password_hash
        blocked = []

        def check_while_a_follower_writes(stored, given):
            try:
                with self.follower_write(runtime):
                    return real(stored, given)
            except (BlockingIOError, sqlite3.OperationalError) as exc:
                blocked.append(exc)
                return real(stored, given)

        monkeypatch.setattr(auth, "check_password_hash", check_while_a_follower_writes)
        response = login(client, "guess")
        assert not blocked, "the login held the write lock while it checked the password"
        assert response.status_code == 401
        assert "密码不正确。再错 2 次将锁定 10 分钟。" in response.get_data(as_text=True)
        with sqlite3.connect(make_url(runtime.db.url).database) as conn:
            assert conn.execute("SELECT value FROM kv_store WHERE key = 'follower-turn'").fetchone() == ("written",)

    @pytest.mark.parametrize("held", ["sqlite write lock", "writer queue"])
    def test_a_login_behind_a_held_write_lock_gets_a_busy_page(self, runtime, client, held):
        token = csrf_from(client)
        path = make_url(runtime.db.url).database
        with open(runtime.db.lock_path, "a+b") as queue:
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            if held == "writer queue":
                fcntl.flock(queue, fcntl.LOCK_EX)
            else:
                other.execute("BEGIN IMMEDIATE")
            try:
                response = client.post("/admin/login", data={"csrf_token": token, "password": PASSWORD})
            finally:
                other.close()
                fcntl.flock(queue, fcntl.LOCK_UN)
        assert response.status_code == 503
        page = response.get_data(as_text=True)
        assert BUSY in page and "工作人员登录" in page
        assert client.get("/admin/").status_code == 302


def unavailable(*_args, **_kwargs):
    raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


def test_login_with_the_database_down_gets_a_busy_page(runtime, client, monkeypatch):
    token = csrf_from(client)
    monkeypatch.setattr(runtime.db, "reader", unavailable)
    monkeypatch.setattr(runtime.db, "session", unavailable)
    response = client.post("/admin/login", data={"csrf_token": token, "password": PASSWORD})
    assert response.status_code == 503
    assert BUSY in response.get_data(as_text=True)


def test_a_console_page_or_logout_with_the_database_down_gets_a_busy_page(runtime, staff, monkeypatch):
    token = csrf_from(staff, "/admin/")
    monkeypatch.setattr(runtime.db, "reader", unavailable)
    monkeypatch.setattr(runtime.db, "session", unavailable)
    page = staff.get("/admin/results/")
    assert page.status_code == 503 and BUSY in page.get_data(as_text=True)
    out = staff.post("/admin/logout", data={"csrf_token": token})
    assert out.status_code == 503
    assert "这次退出没有完成" in out.get_data(as_text=True)
    monkeypatch.undo()
    assert staff.get("/admin/results/").status_code == 200


def test_no_password_or_hash_is_logged(app, client, caplog):
    caplog.set_level("DEBUG")
    login(client, "guess")
    login(client)
    stored = app.extensions["admin_password_hash"]
    assert "failed staff login" in caplog.text and "staff login from" in caplog.text
    assert PASSWORD not in caplog.text and "guess" not in caplog.text and stored not in caplog.text
