"""Faults a follower or an organizer would notice: a locked or unreachable database, the WeChat API down.

A lock held by another connection is waited for up to `database.lock_wait_seconds` (3 s by
default, inside WeChat's 5 s). These tests cut the wait to LOCK_WAIT_SECONDS: what happens when
the wait runs out (the error, the rollback, the reply) is the same, and the test takes a second.
"""
from __future__ import annotations

import fcntl
import os
import socket
import sqlite3
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from waitress.server import create_server

from bot.app import create_app
from bot.storage.db import Database, LockWaitTimeout
from bot.conversation.engine import BUSY_TEXT
from bot.storage.models import Attempt, AttemptItem, InboundMessage, PushLog
from bot.runtime import Runtime
from bot.wechat.simulator import WeChatSimulator, http_poster
from tests.bot.test_cli import run_bot
from tests.conftest import IN_WEEK, PG_URL, Clock, flask_poster, load_bank, make_config, reset_postgres
from tests.scheduler.conftest import config_data, local_now, write_toml

ROOT = Path(__file__).resolve().parents[2]
LOCK_WAIT_SECONDS = 0.3
WECHAT_GIVES_UP_SECONDS = 5  # WeChat's servers wait this long for a passive reply, then retry
ANSWER_TIME = 2_100_000_000  # CreateTime of the answers: later than the start of any attempt here


def closed_port() -> int:
    """Return a local port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build(url: str, db: Database) -> tuple[Runtime, WeChatSimulator, object]:
    runtime = Runtime(make_config({}, url), db, clock=Clock(IN_WEEK))
    app = create_app(runtime=runtime)
    app.config["TESTING"] = True
    client = app.test_client()
    return runtime, WeChatSimulator(token="spamtest", post=flask_poster(client)), client


@pytest.fixture
def short_wait(db_url):
    """A runtime, simulator and client on a fresh database whose lock waits are short."""
    db = Database(db_url, lock_wait_seconds=LOCK_WAIT_SECONDS)
    if db.is_sqlite:
        db.create_all()
    else:
        reset_postgres(db)
    load_bank(db)
    yield build(db_url, db)
    db.dispose()


def active(runtime: Runtime, openid: str) -> Attempt:
    with runtime.db.reader() as session:
        return session.scalars(select(Attempt).where(Attempt.openid == openid, Attempt.status == "active")).one()


def current_answer(runtime: Runtime, openid: str) -> str:
    """Return the right answer to the question the follower is being asked."""
    attempt = active(runtime, openid)
    with runtime.db.reader() as session:
        snap = session.scalars(select(AttemptItem.snapshot).where(
            AttemptItem.attempt_id == attempt.id, AttemptItem.position == attempt.current_index)).one()
    if snap["qtype"] == "判断":
        return "对" if snap["answer"][0] else "错"
    return "".join(snap["answer"]) if snap["qtype"] in ("单选", "多选") else snap["answer"][0]


def stored(runtime: Runtime, msg_id: int) -> int:
    with runtime.db.reader() as session:
        return session.scalar(select(func.count()).select_from(InboundMessage)
                              .where(InboundMessage.dedupe_key.endswith(f":{msg_id}")))


def answered_items(runtime: Runtime, attempt_id: int) -> list[int]:
    with runtime.db.reader() as session:
        return list(session.scalars(select(AttemptItem.position).where(
            AttemptItem.attempt_id == attempt_id, AttemptItem.answered_at.is_not(None)).order_by(AttemptItem.position)))


@contextmanager
def write_lock_held(db: Database, openid: str):
    """Hold what a turn must lock, from a connection outside the app, until the block ends.

    SQLite: the database's write lock (another process in the middle of a write). PostgreSQL:
    the follower's active attempt row (another transaction stuck on the same follower).
    """
    if db.is_sqlite:
        conn = sqlite3.connect(make_url(db.url).database, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    engine = Database(db.url).engine
    with engine.connect() as conn, conn.begin():
        conn.execute(text("SELECT id FROM attempts WHERE openid = :openid AND status = 'active' FOR UPDATE"),
                     {"openid": openid})
        yield
    engine.dispose()


def test_locked_database_gets_busy_reply_stores_nothing_and_the_resend_counts(short_wait):
    runtime, wechat, _ = short_wait
    wechat.text("f1", "答题")
    first = wechat.text("f1", current_answer(runtime, "f1"), create_time=ANSWER_TIME, msg_id=501)
    assert "✅ 回答正确！+10分" in first.content and "第2/5题" in first.content
    answer = current_answer(runtime, "f1")

    with write_lock_held(runtime.db, "f1"):
        started = time.monotonic()
        busy = wechat.text("f1", answer, create_time=ANSWER_TIME + 10, msg_id=502)
        assert (busy.status, busy.content) == (200, BUSY_TEXT)
        assert time.monotonic() - started < 5  # inside WeChat's 5 s, so the follower sees it
        again = wechat.text("f1", answer, create_time=ANSWER_TIME + 10, msg_id=502)  # WeChat's retry
        assert again.content == BUSY_TEXT

    attempt = active(runtime, "f1")
    assert (attempt.current_index, attempt.score) == (1, 10)
    assert stored(runtime, 502) == 0 and answered_items(runtime, attempt.id) == [0]

    resent = wechat.text("f1", answer, create_time=ANSWER_TIME + 10, msg_id=502)
    assert "✅ 回答正确！+10分" in resent.content and "第3/5题" in resent.content
    for i in range(3):
        last = wechat.text("f1", current_answer(runtime, "f1"), create_time=ANSWER_TIME + 20 + i)
    assert "得分：50分（满分50分）" in last.content and "答对：5/5题" in last.content
    with runtime.db.reader() as session:
        done = session.get(Attempt, attempt.id)
        assert (done.status, done.score, done.correct_count) == ("finished", 50, 5)
    assert answered_items(runtime, attempt.id) == [0, 1, 2, 3, 4] and stored(runtime, 502) == 1


def test_sqlite_writer_waits_its_turn_behind_another_worker(tmp_path):
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    db = Database(url)
    db.create_all()
    load_bank(db)
    runtime, wechat, _ = build(url, db)
    wechat.text("f2", "答题")
    answer = current_answer(runtime, "f2")
    replies = []
    with open(db.lock_path, "a+b") as other_worker:
        fcntl.flock(other_worker, fcntl.LOCK_EX)
        sender = threading.Thread(target=lambda: replies.append(
            wechat.text("f2", answer, create_time=ANSWER_TIME, msg_id=601)))
        sender.start()
        sender.join(0.5)
        assert sender.is_alive() and stored(runtime, 601) == 0  # queued, not failed
        fcntl.flock(other_worker, fcntl.LOCK_UN)
    sender.join(10)
    assert "✅ 回答正确！+10分" in replies[0].content
    assert (active(runtime, "f2").current_index, stored(runtime, 601)) == (1, 1)
    db.dispose()


def test_unreachable_database_gets_busy_reply_never_an_error_page():
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/test"
    db = Database(url)
    _, wechat, client = build(url, db)
    for reply in (wechat.text("f3", "答题"), wechat.event("f3", "subscribe"), wechat.event("f3", "CLICK", "quiz")):
        assert (reply.status, reply.content) == (200, BUSY_TEXT)
    gone = wechat.event("f3", "unsubscribe")
    assert (gone.status, gone.raw) == (200, "success")
    health = client.get("/healthz")
    assert health.status_code == 503 and health.get_json() == {"status": "error", "database": "unavailable"}
    db.dispose()


class Outage:
    """A TCP relay in front of PostgreSQL that can cut every connection and refuse new ones."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.hung = False  # accept and never answer, as a server stuck in its startup does
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            if self.hung:
                with self.lock:
                    self.sockets.append(client)  # held open, never read from or answered
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        """Drop every open connection and refuse new ones, as a database restart does."""
        self.open = False
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.sockets.clear()

    def hang(self) -> None:
        """Drop every open connection, then accept new ones and never answer them."""
        self.cut()
        self.open, self.hung = True, True

    def restore(self) -> None:
        self.open, self.hung = True, False

    def close(self) -> None:
        self.cut()
        self.listener.close()


def relayed_database() -> tuple[Outage, str]:
    """A fresh PostgreSQL test database with the bank, and the URL that reaches it through an Outage relay."""
    real = make_url(PG_URL)
    reset = Database(PG_URL)
    reset_postgres(reset)
    load_bank(reset)
    reset.dispose()
    outage = Outage(real.host or "127.0.0.1", real.port or 5432)
    return outage, real.set(host="127.0.0.1", port=outage.port).render_as_string(hide_password=False)


@pytest.mark.skipif(not PG_URL, reason="needs TEST_DATABASE_URL (PostgreSQL)")
def test_database_outage_mid_quiz_then_the_next_message_works():
    outage, url = relayed_database()
    db = Database(url)
    runtime, wechat, client = build(url, db)
    try:
        wechat.text("f4", "答题")
        wechat.text("f4", current_answer(runtime, "f4"), create_time=ANSWER_TIME, msg_id=701)
        answer = current_answer(runtime, "f4")  # the pool now holds connections the outage will cut

        outage.cut()
        busy = wechat.text("f4", answer, create_time=ANSWER_TIME + 10, msg_id=702)
        assert (busy.status, busy.content) == (200, BUSY_TEXT)
        assert client.get("/healthz").status_code == 503

        outage.restore()
        assert client.get("/healthz").status_code == 200
        assert stored(runtime, 702) == 0 and active(runtime, "f4").current_index == 1
        resent = wechat.text("f4", answer, create_time=ANSWER_TIME + 10, msg_id=702)
        assert "✅ 回答正确！+10分" in resent.content and "第3/5题" in resent.content
        attempt = active(runtime, "f4")
        assert (attempt.current_index, attempt.score) == (2, 20)
        assert answered_items(runtime, attempt.id) == [0, 1]
    finally:
        db.dispose()
        outage.close()


@pytest.mark.skipif(not PG_URL, reason="needs TEST_DATABASE_URL (PostgreSQL)")
def test_a_database_that_accepts_and_never_answers_gets_busy_and_503_within_wechats_5_seconds():
    """Issue 16 item 4: connect, statement and pool waits are bounded below WeChat's 5 seconds.

    The webhook is served over real HTTP and asked as WeChat asks: a client that gives up after 5 s.
    """
    outage, url = relayed_database()
    db = Database(url)
    runtime = Runtime(make_config({}, url), db, clock=Clock(IN_WEEK))
    server = create_server(create_app(runtime=runtime), host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{server.effective_port}"
    wechat = WeChatSimulator(token="spamtest", post=http_poster(base + "/wechat", timeout=WECHAT_GIVES_UP_SECONDS))
    try:
        assert "第1/5题" in wechat.text("f5", "答题").content
        answer = current_answer(runtime, "f5")
        outage.hang()
        for _ in range(3):  # the pool's connections were cut: each message meets a fresh connect that hangs
            busy = wechat.text("f5", answer, create_time=ANSWER_TIME, msg_id=801)
            assert (busy.status, busy.content) == (200, BUSY_TEXT)
        health = requests.get(base + "/healthz", timeout=WECHAT_GIVES_UP_SECONDS)
        assert health.status_code == 503 and health.json()["database"] == "unavailable"

        outage.restore()
        assert requests.get(base + "/healthz", timeout=WECHAT_GIVES_UP_SECONDS).status_code == 200
        assert stored(runtime, 801) == 0  # the busy replies stored nothing
        answered = wechat.text("f5", answer, create_time=ANSWER_TIME, msg_id=801)
        assert "第2/5题" in answered.content and stored(runtime, 801) == 1
    finally:
        server.close()
        db.dispose()
        outage.close()


def test_postgres_waits_are_all_bounded_by_the_lock_wait():
    from bot.storage.db import postgres_connect_args

    args = postgres_connect_args(3.0)
    assert args["connect_timeout"] == 3
    assert "-c lock_timeout=3000" in args["options"] and "-c statement_timeout=4000" in args["options"]
    assert postgres_connect_args(0.5)["connect_timeout"] == 2  # libpq's least
    db = Database("postgresql+psycopg://u@127.0.0.1:1/x", lock_wait_seconds=3.0)
    assert db.engine.pool.timeout() == 3.0
    db.dispose()


def _bad_gateway(environ, start_response):
    start_response("502 Bad Gateway", [("Content-Type", "text/html")])
    return [b"<html>502 Bad Gateway</html>"]


@pytest.fixture(params=["refused", "http-502"])
def api_down(request):
    """An api_base_url whose server is gone (connection refused) or answers 502, and the error shown."""
    if request.param == "refused":
        yield f"http://127.0.0.1:{closed_port()}/cgi-bin/", "网络错误：ConnectionError"
        return
    server = create_server(_bad_gateway, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}/cgi-bin/", "微信接口 HTTP 错误 502"
    server.close()


def send_with_api_down(api_base: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess, float, PushLog, Path]:
    """Run `pushes send --yes` for a text push (no media upload: the mass-send call is the first)."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    push = {"key": "notice", "title": "竞答开始", "kind": "text", "at": local_now(600), "content": "今晚八点有奖竞答！"}
    config = write_toml(tmp_path / "config.toml", config_data(
        api_base=api_base, db_url=url, pushes=[push], scheduler={"max_retries": 2, "retry_seconds": 0.2}))
    started = time.monotonic()
    sent = run_bot(config, "pushes", "send", "notice", "--yes")
    elapsed = time.monotonic() - started
    db = Database(url)
    with db.reader() as session:
        row = session.get(PushLog, "notice")
    db.dispose()
    return sent, elapsed, row, config


def test_api_down_send_retries_within_bounds_then_fails_visibly(api_down, tmp_path):
    api_base, shown = api_down
    sent, elapsed, row, config = send_with_api_down(api_base, tmp_path)
    assert sent.returncode == 1
    assert f"发送《竞答开始》失败：{shown}" in sent.stderr
    assert sent.stderr.count("retry ") == 2  # 3 tries in all
    assert (row.status, row.tries) == ("failed", 3) and row.error.startswith(shown)
    plan = run_bot(config, "pushes", "plan")
    assert f"状态：失败：{shown}" in plan.stdout


def test_api_down_error_never_shows_the_app_secret(tmp_path):
    sent, _, row, _ = send_with_api_down(f"http://127.0.0.1:{closed_port()}/cgi-bin/", tmp_path)
    assert sent.returncode == 1
    assert "sched-secret" not in sent.stderr + sent.stdout + row.error


def test_sqlite_writer_lock_is_each_process_and_thread_own(tmp_path):
    """The lock file stays open between writes, yet a forked worker and another thread still queue."""
    db = Database(f"sqlite:///{tmp_path / 'bot.db'}", lock_wait_seconds=0.3)
    with db.writer_queue(), db.writer_queue():  # nested in one thread: held once, no self-deadlock
        pass
    with db.writer_queue():  # the parent holds the lock while it forks a worker
        pid = os.fork()
        if pid == 0:  # the worker inherits the parent's open handle, but must wait like anyone else
            code = 2
            try:
                with db.writer_queue():
                    code = 1
            except LockWaitTimeout:
                code = 0
            except BaseException:  # noqa: BLE001 - never let the forked copy run on inside pytest
                code = 3
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        timed_out = []

        def other_thread():
            try:
                with db.writer_queue():
                    pass
            except LockWaitTimeout:
                timed_out.append(True)

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        assert timed_out == [True]
    with db.writer_queue():  # released: the next writer goes straight in
        pass
    db.dispose()
