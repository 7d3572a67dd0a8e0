"""The WeChat webhook: verify, decrypt, parse, dispatch exactly once, render (and encrypt)."""
from __future__ import annotations

import hashlib
import hmac
import logging
import time

from flask import Flask, Response, current_app, request
from flask.sessions import SecureCookieSessionInterface
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

from bot.conversation.engine import handle
from bot.conversation.message import Inbound, inbound_from
from bot.wechat.replies import Outgoing, render_reply
from bot.wechat.xml_fields import parse_fields

logger = logging.getLogger(__name__)


def _sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def signature_ok(token: str, signature: str, timestamp: str, nonce: str, *extra: str) -> bool:
    """Check a WeChat signature (sha1 of the sorted parts) in constant time."""
    if not (signature and timestamp and nonce):
        return False
    return hmac.compare_digest(_sha1_signature(token, timestamp, nonce, *extra), signature)


def timestamp_fresh(timestamp: str, window_seconds: int, now: float) -> bool:
    """Tell whether a signed request's timestamp is a number of seconds within the window of now.

    Without this a signed query string stays valid for ever: in plaintext mode the signature covers
    only token, timestamp and nonce, so one captured URL could carry any body. The wall clock is
    used, as WeChat's timestamp is; a server whose clock is off by more than the window refuses
    everything, which the log line says.
    """
    if not timestamp.isdigit() or len(timestamp) > 12:
        return False
    return abs(int(timestamp) - now) <= window_seconds


def _text(body: str, status: int) -> Response:
    return Response(body, status=status, mimetype="text/plain")


def _reject(status: int, reason: str) -> Response:
    logger.info("webhook rejected (%s): %s", status, reason)
    return _text({400: "bad request", 403: "forbidden"}.get(status, "error"), status)


def wechat_view() -> Response:
    """Answer WeChat's GET verification and POSTed messages."""
    runtime = current_app.extensions["bot"]
    wechat = runtime.config.wechat
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    if not timestamp_fresh(timestamp, wechat.timestamp_window_seconds, runtime.wall_clock()):
        return _reject(403, f"timestamp missing, not a number or more than {wechat.timestamp_window_seconds} s "
                            "from this server's clock (replayed, or the clock is wrong)")

    if request.method == "GET":
        if not signature_ok(wechat.token, args.get("signature", ""), timestamp, nonce):
            return _reject(403, "bad signature on verification")
        return _text(args.get("echostr", ""), 200)

    limit = runtime.config.server.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return _reject(400, "body over limit")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        return _reject(400, "body over limit")

    encrypted = args.get("encrypt_type", "raw").lower() == "aes"
    if not encrypted and wechat.message_mode == "safe":
        return _reject(403, "plaintext message in safe mode (wechat.message_mode = \"safe\" takes encrypted ones only)")
    if not encrypted and not signature_ok(wechat.token, args.get("signature", ""), timestamp, nonce):
        return _reject(403, "bad signature")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _reject(400, "body is not UTF-8")
    outer = parse_fields(text)
    if outer is None:
        return _reject(400, "malformed XML")

    crypto = None
    if encrypted:
        if not wechat.encoding_aes_key:
            return _reject(400, "encrypted message but no encoding_aes_key configured")
        encrypt = outer.get("Encrypt")
        if not isinstance(encrypt, str) or not encrypt:
            return _reject(400, "encrypted message without Encrypt")
        if not signature_ok(wechat.token, args.get("msg_signature", ""), timestamp, nonce, encrypt):
            return _reject(403, "bad msg_signature")
        crypto = WeChatCrypto(wechat.token, wechat.encoding_aes_key, wechat.app_id)
        try:
            text = crypto.decrypt_message({"Encrypt": encrypt}, args["msg_signature"], timestamp, nonce)
        except (InvalidSignatureException, InvalidAppIdException):
            return _reject(403, "decrypted for another app")
        except Exception:  # noqa: BLE001 - bad padding, base64 or UTF-8 inside the ciphertext
            return _reject(400, "undecryptable Encrypt")
        outer = parse_fields(text)
        if outer is None:
            return _reject(400, "malformed decrypted XML")

    try:
        inbound = inbound_from(outer, signed=f"{timestamp}:{nonce}")
    except (ValueError, TypeError):
        return _reject(400, "not a usable WeChat message")

    answer = handle(runtime=runtime, inbound=inbound)
    if answer.replayed:
        return _reject(403, "signed query string already used by another message (replayed)")
    reply_xml = _reply_xml(inbound, answer)
    if not reply_xml:
        return _text("success", 200)
    if crypto is not None:
        return Response(crypto.encrypt_message(reply_xml, nonce, timestamp), mimetype="application/xml")
    return Response(reply_xml, mimetype="application/xml")


def _reply_xml(inbound: Inbound, answer) -> str:
    """Render the engine's answer as passive-reply XML ("" tells WeChat "success")."""
    if answer.busy:
        # Nothing was stored, so the follower's resend is processed afresh; an event nobody sees gets no text.
        if inbound.msg_type == "event" and inbound.event not in ("click", "subscribe", "subscribe_scan", "scan"):
            return ""
        create_time = int(time.time())
    else:
        # A stored reply keeps the CreateTime it was first sent with, so a retry gets the same XML.
        create_time = inbound.create_time if answer.create_time is None else answer.create_time
    return render_reply(Outgoing(text=answer.text), to_user=inbound.openid, from_user=inbound.account,
                        create_time=create_time)


class _NoSessionOnWebhook(SecureCookieSessionInterface):
    """WeChat's requests never carry the staff cookie: the webhook skips opening the signed session."""

    def __init__(self, path: str):
        self.path = path

    def open_session(self, app, request):
        if request.path == self.path:
            return self.make_null_session(app)
        return super().open_session(app, request)


def register_webhook(app: Flask, path: str) -> None:
    """Mount the webhook view at the configured path."""
    app.add_url_rule(path, endpoint="wechat", view_func=wechat_view, methods=["GET", "POST"])
    app.session_interface = _NoSessionOnWebhook(path)
