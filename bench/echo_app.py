"""The floor for the load benchmark: a bare Flask + wechatpy handler that echoes the text back.

Same signature check, parse and reply rendering as the bot, and nothing else.
`gunicorn "bench.echo_app:create_echo_app()"`; the token comes from ECHO_TOKEN.
"""
from __future__ import annotations

import os

from flask import Flask, Response, request
from wechatpy import parse_message
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature


def create_echo_app() -> Flask:
    """Build the echo app."""
    app = Flask(__name__)
    token = os.environ.get("ECHO_TOKEN", "benchtoken")

    @app.route("/wechat", methods=["GET", "POST"])
    def echo():
        args = request.args
        try:
            check_signature(token, args.get("signature", ""), args.get("timestamp", ""), args.get("nonce", ""))
        except Exception:  # noqa: BLE001 - the floor only needs to refuse bad signatures
            return Response("forbidden", status=403)
        message = parse_message(request.get_data())
        reply = TextReply(content=getattr(message, "content", "") or "ok", message=message)
        return Response(reply.render(), mimetype="application/xml")

    return app
