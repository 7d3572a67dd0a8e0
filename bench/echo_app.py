"""The floors for the load benchmark: a bare Flask + wechatpy handler that echoes the text back.

Same signature check, parse and reply rendering as the bot, and nothing else.
`gunicorn "bench.echo_app:create_echo_app()"`; the token comes from ECHO_TOKEN.

With ECHO_DATABASE_URL (a PostgreSQL URL) it is the persisting floor: it also inserts each
message into the bot's inbound_messages table with one statement on an autocommit connection,
the least a server that records every message must do.
"""
from __future__ import annotations

import os

from flask import Flask, Response, request
from wechatpy import parse_message
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature


_INSERT = ("INSERT INTO inbound_messages (dedupe_key, openid, msg_type, create_time, received_at, reply) "
           "VALUES (%s, %s, %s, %s, now(), %s)")


def _recorder(url: str):
    """One autocommit connection per worker process, opened on first use."""
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
    held = {}

    def record(message, reply: str) -> None:
        conn = held.get("conn")
        if conn is None or conn.closed:
            conn = held["conn"] = psycopg.connect(conninfo, autocommit=True)
        conn.execute(_INSERT, (f"echo:{message.source}:{message.id}", message.source, message.type,
                               int(message.create_time.timestamp()), reply))

    return record


def create_echo_app() -> Flask:
    """Build the echo app (persisting each message when ECHO_DATABASE_URL is set)."""
    app = Flask(__name__)
    token = os.environ.get("ECHO_TOKEN", "benchtoken")
    record = _recorder(os.environ["ECHO_DATABASE_URL"]) if os.environ.get("ECHO_DATABASE_URL") else None

    @app.route("/wechat", methods=["GET", "POST"])
    def echo():
        args = request.args
        try:
            check_signature(token, args.get("signature", ""), args.get("timestamp", ""), args.get("nonce", ""))
        except Exception:  # noqa: BLE001 - the floor only needs to refuse bad signatures
            return Response("forbidden", status=403)
        message = parse_message(request.get_data())
        reply = TextReply(content=getattr(message, "content", "") or "ok", message=message)
        rendered = reply.render()
        if record is not None:
            record(message, rendered)
        return Response(rendered, mimetype="application/xml")

    return app
