"""Staff sessions held in the database: the signed cookie carries a random id, a kv_store row keeps it live.

A signed cookie alone stays valid until it expires, whatever happens on the server. Here logging
out deletes the row, so a copy of the cookie taken before stops working; and the row holds a
keyed fingerprint of the password the session was opened with, so restarting the app with another
password (ADMIN_PASSWORD) ends every session opened with the old one, even when admin.secret_key
stays the same.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot.storage.models import KeyValue

KEY_PREFIX = "admin-session:"


def password_mark(*, secret_key: str, password: str) -> str:
    """Return a short keyed fingerprint of the password: it tells passwords apart, and shows neither one nor its hash."""
    digest = hmac.new(secret_key.encode("utf-8"), b"admin-password\0" + password.encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:32]


def _key(session_id: str) -> str:
    # Only a digest of the id is stored: reading the table does not give a session away.
    return KEY_PREFIX + hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def open_session(*, session: Session, mark: str, now: dt.datetime, lifetime: dt.timedelta) -> str:
    """Store a new staff session that lasts `lifetime` (dropping expired ones), in the open transaction;
    return its id for the cookie."""
    session.execute(delete(KeyValue).where(KeyValue.key.startswith(KEY_PREFIX, autoescape=True),
                                           KeyValue.expires_at <= now))
    session_id = secrets.token_urlsafe(32)
    session.add(KeyValue(key=_key(session_id), value=mark, expires_at=now + lifetime))
    return session_id


def is_live(*, session: Session, session_id: str, mark: str, now: dt.datetime) -> bool:
    """Tell whether a session id is stored, unexpired and opened with the current password."""
    row = session.get(KeyValue, _key(session_id))
    return (row is not None and row.expires_at is not None and row.expires_at > now
            and hmac.compare_digest(row.value, mark))


def end_session(*, session: Session, session_id: str) -> None:
    """Delete a staff session, in the open transaction: its cookie no longer opens the console."""
    session.execute(delete(KeyValue).where(KeyValue.key == _key(session_id)))
