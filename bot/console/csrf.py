"""A per-session CSRF token, required on every POST to the console and the simulator."""
from __future__ import annotations

import hmac
import logging
import secrets

from flask import abort, request, session

logger = logging.getLogger(__name__)

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def token() -> str:
    """Return this session's CSRF token, creating it on first use."""
    value = session.get(FIELD)
    if not value:
        value = session[FIELD] = secrets.token_urlsafe(32)
    return value


def check_token() -> None:
    """Refuse a POST whose form field or header does not carry the session's token."""
    if request.method != "POST":
        return
    expected = session.get(FIELD, "")
    given = request.form.get(FIELD) or request.headers.get(HEADER, "")
    if not expected or not given or not hmac.compare_digest(expected, given):
        logger.warning("CSRF check failed for %s %s", request.method, request.path)
        abort(400, description="表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试。")
