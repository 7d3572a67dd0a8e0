"""The browser chat window: signed (and encrypted) XML posted to the app's own webhook, replies shown."""
from __future__ import annotations

import logging
import re
import threading

from flask import Blueprint, Flask, current_app, jsonify, render_template, request

from bot.masking import short_openid
from bot.wechat.simulator import WeChatSimulator
from bot.console import auth
from bot.console import csrf

logger = logging.getLogger(__name__)

bp = Blueprint("simulator", __name__, url_prefix="/simulator")

DEFAULT_USERS = ("sim-user-1", "sim-user-2", "sim-user-3")
OPENID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Users added in the chat window carry this prefix, which no WeChat openid has: the window can
# never speak for a real follower (answer their quiz, overwrite their prize registration).
SIM_PREFIX = "sim-"
MAX_TEXT = 600
EXTENSION = "admin_simulator"


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
    return openid in test_users(testers) or (openid.startswith(SIM_PREFIX) and len(openid) > len(SIM_PREFIX))


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
        return jsonify(error=f"模拟器只能以测试用户或以 {SIM_PREFIX} 开头的模拟用户发消息，"
                             "不能以真实粉丝的 openid 发送。"), 400
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
