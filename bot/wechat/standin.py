"""A local stand-in for the WeChat API: answers like the real one and records every call.

The demo and the tests talk to it over real HTTP. Control endpoints under /_standin/ let a
test read the calls and the mass sends that really went out, queue errors for an endpoint, or expire the issued tokens.

Tokens come only from `cgi-bin/stable_token`, answered as WeChat documents it (see bot/wechat/api.py):
the same token while it has more than 5 minutes left, a new one (the old still valid until it
expires) in its last 5 minutes, and with force_refresh a new one that invalidates the old at once,
unless the previous forced refresh was less than 30 s ago. The old `cgi-bin/token` call is not
answered, so a caller still using it fails loudly here. Articles: `draft/add` makes a draft whose
media_id a mass send takes (and removes from the drafts, as WeChat does); `material/add_news`
is refused as WeChat refuses it since permanent news material was withdrawn. Channel codes:
`qrcode/create` with QR_LIMIT_STR_SCENE answers a ticket and url (the same again for a scene it has
seen, 45029 past the permanent-code limit), and `showqrcode?ticket=` serves a PNG for the ticket
(a stand-in picture: the url it stands for is in the PNG's text, not a scannable code).
"""
from __future__ import annotations

import base64
import hashlib
import itertools
import json
import secrets
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field

from flask import Flask, Response, jsonify, request

TOKEN_SECONDS = 7200
RENEW_BEFORE_SECONDS = 300  # normal mode hands out a new token in the old one's last 5 minutes
FORCE_INTERVAL_SECONDS = 30  # a forced refresh sooner than this after the last one does not refresh
CLIENT_MSG_ID_SECONDS = 24 * 3600
INVALID_TOKEN = ("invalid credential, access_token is invalid or not latest, could get access_token by "
                 "getStableAccessToken, more details at https://mmbizurl.cn/s/JtxxFh33r")
# What material/add_news answers since permanent news material was withdrawn (2022).
NEWS_WITHDRAWN = ("This API has been unsupported. For more details, please view https://mp.weixin.qq.com/cgi-bin/"
                  "announce?action=getannouncement&announce_id=11644831863qFQSh&version=&lang=zh_CN")


CUSTOM_WINDOW_SECONDS = 48 * 3600
CUSTOM_PER_WINDOW = 5

PERMANENT_QRCODE_LIMIT = 100_000  # permanent codes per account
SCENE_STR_MAX = 64
QR_MODULES = 29  # the picture's grid, the size of a version 3 QR code
QR_QUIET = 4  # blank modules around it
QR_PIXELS = 8  # pixels per module


@dataclass
class StandInState:
    """Everything the stand-in remembers; guarded by one lock."""

    app_id: str = ""
    app_secret: str = ""
    calls: list[dict] = field(default_factory=list)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (epoch)
    stable_token: str = ""  # the token stable_token's normal mode returns
    forced_at: float = 0.0  # when force_refresh last issued a token
    drafts: dict[str, dict] = field(default_factory=dict)  # draft media_id -> draft/add body
    client_msg_ids: dict[str, tuple[int, float]] = field(default_factory=dict)
    sends: list[dict] = field(default_factory=list)  # mass sends that really went out (not 45065)
    failures: dict[str, list[int]] = field(default_factory=dict)  # path -> errcodes to return next
    delays: dict[str, float] = field(default_factory=dict)  # path -> seconds to sleep before answering
    menu: dict | None = None
    # The customer-service rule: a follower may be sent CUSTOM_PER_WINDOW messages within 48 hours of
    # their last message to the account (set with /_standin/interact, as WeChat knows it).
    interactions: dict[str, float] = field(default_factory=dict)  # openid -> epoch of their last message
    customs: list[dict] = field(default_factory=list)  # customer-service messages that went out
    tags: dict[int, dict] = field(default_factory=dict)  # tag id -> {"name", "members"}
    qrcodes: dict[str, dict] = field(default_factory=dict)  # scene_str -> {"ticket", "url"}
    qrcode_limit: int = PERMANENT_QRCODE_LIMIT
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1000001))


def create_standin(app_id: str = "", app_secret: str = "") -> Flask:
    """Build the stand-in app; with app_id/app_secret set, the token call checks them."""
    app = Flask("wechat_standin")
    state = StandInState(app_id=app_id, app_secret=app_secret)
    app.extensions["standin"] = state

    def record(path: str) -> dict:
        body: object
        raw = request.get_data()
        if request.files:
            body = {"files": {k: {"filename": f.filename, "size": len(f.read())} for k, f in request.files.items()},
                    "form": request.form.to_dict()}
        else:
            try:
                body = json.loads(raw.decode("utf-8")) if raw else None
            except (UnicodeDecodeError, json.JSONDecodeError):
                body = raw.decode("utf-8", "replace")
        call = {"time": time.time(), "method": request.method, "path": path,
                "query": request.args.to_dict(), "body": body}
        with state.lock:
            state.calls.append(call)
        return call

    def queued_failure(path: str) -> int | None:
        with state.lock:
            delay = state.delays.get(path)
            queue = state.failures.get(path)
            code = queue.pop(0) if queue else None
        if delay:
            time.sleep(delay)
        return code

    def error(code: int, msg: str = "error"):
        return jsonify({"errcode": code, "errmsg": msg})

    def token_ok() -> bool:
        token = request.args.get("access_token", "")
        with state.lock:
            expiry = state.tokens.get(token)
        return expiry is not None and expiry > time.time()

    def stable_answer(force: bool) -> dict:
        """Return WeChat's current stable token, renewing it as WeChat does; caller holds the lock."""
        now = time.time()
        current = state.stable_token
        left = state.tokens.get(current, 0) - now
        if force and left > 0 and now - state.forced_at < FORCE_INTERVAL_SECONDS:
            force = False  # too soon after the last forced refresh: WeChat does not refresh
        elif force:
            state.tokens.pop(current, None)
            state.forced_at = now
        if force or left <= RENEW_BEFORE_SECONDS:
            current = "standin_" + secrets.token_hex(16)
            state.tokens[current] = now + TOKEN_SECONDS
            state.stable_token = current
            left = TOKEN_SECONDS
        return {"access_token": current, "expires_in": int(left)}

    @app.route("/cgi-bin/stable_token", methods=["GET", "POST"])
    def stable_token():
        call = record("stable_token")
        code = queued_failure("stable_token")
        if code is not None:
            return error(code)
        if request.method != "POST":
            return error(43002, "require POST method")
        body = call["body"] if isinstance(call["body"], dict) else {}
        if body.get("grant_type") != "client_credential":
            return error(40002, "invalid grant_type")
        if not body.get("appid"):
            return error(41002, "appid missing")
        if not body.get("secret"):
            return error(41004, "appsecret missing")
        if state.app_id and body.get("appid") != state.app_id:
            return error(40013, "invalid appid")
        if state.app_id and body.get("secret") != state.app_secret:
            return error(40125, "invalid appsecret")
        force = body.get("force_refresh", False)
        if not isinstance(force, bool):
            return error(47001, "data format error")
        with state.lock:
            return jsonify(stable_answer(force))

    api_paths = ("message/mass/sendall", "message/mass/send", "message/mass/preview", "message/mass/delete",
                 "message/mass/get", "media/uploadvideo", "media/upload", "material/add_material",
                 "material/add_news", "draft/add", "message/custom/send", "menu/create", "menu/get", "menu/delete",
                 "tags/get", "user/get", "tags/create", "tags/members/batchtagging", "qrcode/create")

    @app.route("/cgi-bin/<path:path>", methods=["GET", "POST"])
    def api(path: str):
        call = record(path)
        if path not in api_paths:
            return error(40004, f"stand-in does not implement {path}")
        code = queued_failure(path)
        if code is not None:
            return error(code, "queued failure")
        if not token_ok():
            return error(40001, INVALID_TOKEN)
        body = call["body"] if isinstance(call["body"], dict) else {}
        now = time.time()
        if path in ("message/mass/sendall", "message/mass/send"):
            cid = body.get("clientmsgid")
            with state.lock:
                if cid:
                    seen = state.client_msg_ids.get(cid)
                    if seen and now - seen[1] < CLIENT_MSG_ID_SECONDS:
                        return jsonify({"errcode": 45065, "errmsg": "clientmsgid exist", "msg_id": seen[0]})
                msg_id = next(state.ids)
                if cid:
                    state.client_msg_ids[cid] = (msg_id, now)
                tag_id = (body.get("filter") or {}).get("tag_id")
                to = list(state.tags.get(tag_id, {}).get("members", [])) if tag_id is not None else body.get("touser")
                state.sends.append({"msg_id": msg_id, "clientmsgid": cid, "path": path, "body": body, "to": to})
                if body.get("msgtype") == "mpnews":
                    # A draft that has been mass-sent leaves the drafts box.
                    state.drafts.pop(str(body.get("mpnews", {}).get("media_id", "")), None)
            return jsonify({"errcode": 0, "errmsg": "send job submission success",
                            "msg_id": msg_id, "msg_data_id": msg_id})
        if path == "message/custom/send":
            openid = str(body.get("touser", ""))
            with state.lock:
                seen = state.interactions.get(openid)
                if seen is None or now - seen > CUSTOM_WINDOW_SECONDS:
                    return error(45015, "response out of time limit or subscription is canceled")
                used = [c for c in state.customs if c["touser"] == openid and c["at"] >= seen]
                if len(used) >= CUSTOM_PER_WINDOW:
                    return error(45047, "out of response count limit")
                state.customs.append({"touser": openid, "at": now, "body": body})
            return error(0, "ok")
        if path == "tags/create":
            name = str((body.get("tag") or {}).get("name", ""))
            with state.lock:
                if not name or len(name) > 30 or any(t["name"] == name for t in state.tags.values()):
                    return error(45157, "invalid tag name")
                tag_id = 100 + len(state.tags)
                state.tags[tag_id] = {"name": name, "members": []}
            return jsonify({"tag": {"id": tag_id, "name": name}})
        if path == "tags/members/batchtagging":
            with state.lock:
                tag = state.tags.get(body.get("tagid"))
                if tag is None:
                    return error(45159, "invalid tag id")
                openids = body.get("openid_list") or []
                if not isinstance(openids, list) or len(openids) > 50:
                    return error(40032, "invalid openid list size")
                tag["members"].extend(o for o in openids if o not in tag["members"])
            return error(0, "ok")
        if path == "qrcode/create":
            scene = ((body.get("action_info") or {}).get("scene") or {}).get("scene_str")
            if body.get("action_name") != "QR_LIMIT_STR_SCENE":
                return error(40004, "stand-in implements only QR_LIMIT_STR_SCENE")
            if not isinstance(scene, str) or not 1 <= len(scene) <= SCENE_STR_MAX:
                return error(40053, "invalid action info, please check document")
            with state.lock:
                code = state.qrcodes.get(scene)
                if code is None:
                    if len(state.qrcodes) >= state.qrcode_limit:
                        return error(45029, "qrcode count out of limit")
                    # Like WeChat's: base64 with + / = in it, so a caller that forgets to URL-encode it fails.
                    ticket = base64.b64encode(b"\xfb\xff" + secrets.token_bytes(41)).decode("ascii")
                    code = {"ticket": ticket, "url": f"http://weixin.qq.com/q/standin{secrets.token_hex(10)}"}
                    state.qrcodes[scene] = code
            return jsonify(code)
        if path == "message/mass/preview":
            return jsonify({"errcode": 0, "errmsg": "preview success", "msg_id": next(state.ids)})
        if path == "material/add_news":
            return error(45106, NEWS_WITHDRAWN)
        if path == "draft/add":
            articles = body.get("articles")
            if (not isinstance(articles, list) or not articles
                    or not all(isinstance(a, dict) and a.get("title") and a.get("content") and a.get("thumb_media_id")
                               for a in articles)):
                return error(47001, "data format error")
            media_id = f"standin_draft_{next(state.ids)}"
            with state.lock:
                state.drafts[media_id] = body
            return jsonify({"media_id": media_id})
        if path == "material/add_material":
            media_id = f"standin_media_{next(state.ids)}"
            return jsonify({"media_id": media_id, "url": f"http://mmbiz.qpic.cn/standin/{media_id}"})
        if path in ("media/uploadvideo", "media/upload"):
            return jsonify({"type": request.args.get("type", "video"),
                            "media_id": f"standin_media_{next(state.ids)}", "created_at": int(now)})
        if path == "menu/create":
            with state.lock:
                state.menu = body
            return error(0, "ok")
        if path == "menu/get":
            if state.menu is None:
                return error(46003, "menu no exist")
            return jsonify({"menu": state.menu})
        if path == "menu/delete":
            with state.lock:
                state.menu = None
            return error(0, "ok")
        if path == "tags/get":
            with state.lock:
                return jsonify({"tags": [{"id": i, "name": t["name"], "count": len(t["members"])}
                                         for i, t in state.tags.items()]})
        if path == "user/get":
            return jsonify({"total": 0, "count": 0, "data": {"openid": []}, "next_openid": ""})
        return error(0, "ok")

    @app.get("/cgi-bin/showqrcode")
    def showqrcode():
        """Serve a code's image for its ticket, without a token, as mp.weixin.qq.com does."""
        record("showqrcode")
        code = queued_failure("showqrcode")
        if code is not None:
            return error(code, "queued failure")
        ticket = request.args.get("ticket", "")
        with state.lock:
            found = next((c for c in state.qrcodes.values() if c["ticket"] == ticket), None)
        if found is None:
            return Response("invalid ticket", status=404, mimetype="text/plain")
        return Response(code_png(found["url"]), mimetype="image/png")

    @app.get("/_standin/qrcodes")
    def qrcodes():
        with state.lock:
            return jsonify(dict(state.qrcodes))

    @app.get("/_standin/calls")
    def calls():
        with state.lock:
            return jsonify(list(state.calls))

    @app.get("/_standin/sent")
    def sent():
        with state.lock:
            return jsonify(list(state.sends))

    @app.post("/_standin/interact")
    def interact():
        """Note that a follower wrote to the account (at: epoch seconds, default now): opens their 48 hours."""
        spec = request.get_json(force=True)
        with state.lock:
            state.interactions[str(spec["openid"])] = float(spec.get("at") or time.time())
        return jsonify({"ok": True})

    @app.get("/_standin/customs")
    def customs():
        with state.lock:
            return jsonify(list(state.customs))

    @app.post("/_standin/reset")
    def reset():
        with state.lock:
            state.interactions.clear()
            state.customs.clear()
            state.tags.clear()
            state.qrcodes.clear()
            state.qrcode_limit = PERMANENT_QRCODE_LIMIT
            state.calls.clear()
            state.sends.clear()
            state.client_msg_ids.clear()
            state.failures.clear()
            state.delays.clear()
            state.menu = None
            state.tokens.clear()
            state.stable_token = ""
            state.forced_at = 0.0
            state.drafts.clear()
        return jsonify({"ok": True})

    @app.post("/_standin/fail")
    def fail():
        spec = request.get_json(force=True)
        with state.lock:
            state.failures.setdefault(spec["path"], []).extend(spec["errcodes"])
        return jsonify({"ok": True})

    @app.post("/_standin/delay")
    def delay():
        spec = request.get_json(force=True)
        with state.lock:
            state.delays[spec["path"]] = float(spec["seconds"])
        return jsonify({"ok": True})

    @app.get("/_standin/drafts")
    def drafts():
        with state.lock:
            return jsonify(dict(state.drafts))

    @app.post("/_standin/expire-tokens")
    def expire_tokens():
        with state.lock:
            state.tokens.clear()
        return jsonify({"ok": True})

    return app


def code_png(text: str) -> bytes:
    """Draw a QR-code-like picture for `text` (finder squares, the rest from its hash) as a PNG, `text` in it."""
    size = QR_MODULES
    bits = "".join(f"{byte:08b}" for i in range(size * size // 256 + 1)
                   for byte in hashlib.sha256(f"{i}:{text}".encode()).digest())
    dark = [[bits[r * size + c] == "1" for c in range(size)] for r in range(size)]
    for top, left in ((0, 0), (0, size - 7), (size - 7, 0)):
        for r in range(7):
            for c in range(7):
                ring = max(abs(r - 3), abs(c - 3))
                dark[top + r][left + c] = ring != 2
    side = (size + 2 * QR_QUIET) * QR_PIXELS
    rows = []
    for y in range(side):
        r = y // QR_PIXELS - QR_QUIET
        line = bytes(0 if 0 <= r < size and 0 <= x // QR_PIXELS - QR_QUIET < size
                     and dark[r][x // QR_PIXELS - QR_QUIET] else 255 for x in range(side))
        rows.append(b"\x00" + line)  # filter type 0 (none) before each row of 8-bit grey pixels

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + chunk(b"tEXt", b"Comment\x00" + text.encode("latin-1", "replace"))
            + chunk(b"tEXt", b"Software\x00WeChat API stand-in (not a scannable code)")
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b""))
