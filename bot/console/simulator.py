"""The browser chat window: signed (and encrypted) XML posted to the app's own webhook, replies shown."""
from __future__ import annotations

import datetime as dt
import logging
import re
import threading

from flask import Blueprint, Flask, current_app, jsonify, render_template, request

from bot.masking import short_openid
from bot.quiz.rules import SIMULATOR_PREFIX
from bot.storage.counters import count_below
from bot.storage.models import Follower
from bot.wechat.simulator import WeChatSimulator
from bot.console import auth
from bot.console import csrf

logger = logging.getLogger(__name__)

bp = Blueprint("simulator", __name__, url_prefix="/simulator")

DEFAULT_USERS = ("sim-user-1", "sim-user-2", "sim-user-3")
OPENID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Users added in the chat window carry rules.SIMULATOR_PREFIX, which no WeChat openid has: the window
# can never speak for a real follower (answer their quiz, overwrite their prize registration).
MAX_TEXT = 600
EXTENSION = "admin_simulator"
# New simulator users one address may add in an hour: enough to try the quiz as several people,
# not to fill the database with players (they are test accounts: never in results or draws).
NEW_USERS_PER_HOUR = 10
NEW_USERS_PREFIX = "sim-new:"


@bp.before_request
def gate():
    """Open in the demo (stand-in API); otherwise for logged-in staff only."""
    runtime = current_app.extensions["bot"]
    if not runtime.config.wechat.standin and not auth.logged_in():
        if not current_app.extensions.get("admin_password_hash"):
            return render_template("admin/no_password.html"), 503
        return auth.login_redirect()
    return csrf.check_token()


class _Chat:
    """One simulator per app, so message ids and per-user CreateTimes keep increasing."""

    def __init__(self, app: Flask):
        wechat = app.extensions["bot"].config.wechat
        path = app.extensions["bot"].config.server.webhook_path
        self.lock = threading.Lock()
        self.client = app.test_client()

        def post(query: dict, body: bytes) -> tuple[int, str]:
            response = self.client.post(path, query_string=query, data=body, content_type="text/xml")
            return response.status_code, response.get_data(as_text=True)

        self.sim = WeChatSimulator(token=wechat.token, encoding_aes_key=wechat.encoding_aes_key,
                                   app_id=wechat.app_id, post=post)


def _chat() -> _Chat:
    app = current_app._get_current_object()
    chat = app.extensions.get(EXTENSION)
    if chat is None:
        chat = app.extensions.setdefault(EXTENSION, _Chat(app))
    return chat


def test_users(testers: tuple[str, ...]) -> tuple[str, ...]:
    """Return the chat window's users: the configured testers, else three sample openids."""
    return testers or DEFAULT_USERS


def may_speak_as(openid: str, testers: tuple[str, ...]) -> bool:
    """Say whether the chat window may send as this openid: a test user, or one added in the window."""
    return openid in test_users(testers) or (openid.startswith(SIMULATOR_PREFIX) and len(openid) > len(SIMULATOR_PREFIX))


def _admit_new_user(openid: str) -> bool:
    """Let a user added in the window speak: at once if known, else if this address may add one more now."""
    runtime = current_app.extensions["bot"]
    with runtime.db.reader() as session:
        if session.get(Follower, openid) is not None:
            return True
    now = runtime.clock()
    hour_end = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    with runtime.db.session() as session:
        return count_below(session=session, key=NEW_USERS_PREFIX + (request.remote_addr or "unknown"), now=now,
                           expires=hour_end, cap=NEW_USERS_PER_HOUR) is not None


@bp.get("/")
def index():
    """Show the phone-style chat window."""
    config = current_app.extensions["bot"].config
    return render_template("simulator.html", users=test_users(config.quiz.testers), testers=config.quiz.testers,
                           menu=config.menu, encrypted=config.wechat.encrypted, activity=config.activity,
                           staff=auth.logged_in())


@bp.post("/send")
def send():
    """Post one message or event from a test user to the webhook and return what they would see."""
    data = request.get_json(silent=True) or {}
    openid = str(data.get("openid", "")).strip()
    kind = data.get("kind")
    if not OPENID.match(openid):
        return jsonify(error="openid 只能包含字母、数字、- 和 _，最长 64 个字符。"), 400
    if not may_speak_as(openid, current_app.extensions["bot"].config.quiz.testers):
        logger.warning("simulator refused to send as %s (not a test user)", short_openid(openid))
        return jsonify(error=f"模拟器只能以测试用户或以 {SIMULATOR_PREFIX} 开头的模拟用户发消息，"
                             "不能以真实粉丝的 openid 发送。"), 400
    if openid not in test_users(current_app.extensions["bot"].config.quiz.testers) and not _admit_new_user(openid):
        logger.warning("simulator refused a new user from %s: %d new users this hour", request.remote_addr,
                       NEW_USERS_PER_HOUR)
        return jsonify(error=f"同一地址每小时最多新建 {NEW_USERS_PER_HOUR} 个模拟用户。"
                             "请继续用已有的模拟用户，或一小时后再试。"), 429
    with _chat().lock:
        sim = _chat().sim
        if kind == "text":
            content = str(data.get("content", ""))[:MAX_TEXT]
            if not content.strip():
                return jsonify(error="请输入消息内容。"), 400
            reply = sim.text(openid, content)
        elif kind == "click":
            reply = sim.event(openid, "CLICK", str(data.get("key", ""))[:128])
        elif kind in ("subscribe", "unsubscribe"):
            reply = sim.event(openid, kind)
        else:
            return jsonify(error="未知的消息类型。"), 400
    logger.info("simulator %s from %s: HTTP %s", kind, short_openid(openid), reply.status)
    if reply.status != 200:
        return jsonify(error=f"公众号服务器返回 HTTP {reply.status}", status=reply.status), 502
    return jsonify(status=reply.status, msg_type=reply.msg_type, content=reply.content)
