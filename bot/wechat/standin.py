"""A local stand-in for the WeChat API: answers like the real one and records every call.

The demo and the tests talk to it over real HTTP. Control endpoints under /_standin/ let a
test read the calls and the mass sends that really went out, queue errors for an endpoint, or expire the issued tokens.
"""
from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field

from flask import Flask, jsonify, request

TOKEN_SECONDS = 7200
CLIENT_MSG_ID_SECONDS = 24 * 3600


@dataclass
class StandInState:
    """Everything the stand-in remembers; guarded by one lock."""

    app_id: str = ""
    app_secret: str = ""
    calls: list[dict] = field(default_factory=list)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (epoch)
    client_msg_ids: dict[str, tuple[int, float]] = field(default_factory=dict)
    sends: list[dict] = field(default_factory=list)  # mass sends that really went out (not 45065)
    failures: dict[str, list[int]] = field(default_factory=dict)  # path -> errcodes to return next
    delays: dict[str, float] = field(default_factory=dict)  # path -> seconds to sleep before answering
    menu: dict | None = None
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

    def issue_token():
        token = "standin_" + secrets.token_hex(16)
        with state.lock:
            state.tokens[token] = time.time() + TOKEN_SECONDS
        return jsonify({"access_token": token, "expires_in": TOKEN_SECONDS})

    @app.get("/cgi-bin/token")
    def token():
        record("token")
        code = queued_failure("token")
        if code is not None:
            return error(code)
        if state.app_id and (request.args.get("appid") != state.app_id
                             or request.args.get("secret") != state.app_secret):
            return error(40125, "invalid appsecret")
        return issue_token()

    @app.post("/cgi-bin/stable_token")
    def stable_token():
        record("stable_token")
        return issue_token()

    api_paths = ("message/mass/sendall", "message/mass/send", "message/mass/preview", "message/mass/delete",
                 "message/mass/get", "media/uploadvideo", "media/upload", "material/add_material",
                 "message/custom/send", "menu/create", "menu/get", "menu/delete", "tags/get", "user/get")

    @app.route("/cgi-bin/<path:path>", methods=["GET", "POST"])
    def api(path: str):
        call = record(path)
        if path not in api_paths:
            return error(40004, f"stand-in does not implement {path}")
        code = queued_failure(path)
        if code is not None:
            return error(code, "queued failure")
        if not token_ok():
            return error(40001, "invalid credential, access_token is invalid or not latest")
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
                state.sends.append({"msg_id": msg_id, "clientmsgid": cid, "path": path, "body": body})
            return jsonify({"errcode": 0, "errmsg": "send job submission success",
                            "msg_id": msg_id, "msg_data_id": msg_id})
        if path == "message/mass/preview":
            return jsonify({"errcode": 0, "errmsg": "preview success", "msg_id": next(state.ids)})
        if path in ("media/uploadvideo", "media/upload", "material/add_material"):
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
            return jsonify({"tags": []})
        if path == "user/get":
            return jsonify({"total": 0, "count": 0, "data": {"openid": []}, "next_openid": ""})
        return error(0, "ok")

    @app.get("/_standin/calls")
    def calls():
        with state.lock:
            return jsonify(list(state.calls))

    @app.get("/_standin/sent")
    def sent():
        with state.lock:
            return jsonify(list(state.sends))

    @app.post("/_standin/reset")
    def reset():
        with state.lock:
            state.calls.clear()
            state.sends.clear()
            state.client_msg_ids.clear()
            state.failures.clear()
            state.delays.clear()
            state.menu = None
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

    @app.post("/_standin/expire-tokens")
    def expire_tokens():
        with state.lock:
            state.tokens.clear()
        return jsonify({"ok": True})

    return app
