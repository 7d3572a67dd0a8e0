"""Process one inbound message or event exactly once and remember the reply.

The dedupe row is inserted in the same transaction as everything the message changes, so a
WeChat retry (or a second copy on another worker) either finds the committed reply or fails
on the unique key and then reads it; it never changes anything a second time.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from .answer_turn import Counted, try_answer
from .db import describe_db_error
from .masking import short_openid
from .models import InboundMessage
from .outreach import match_action, menu_key
from .ratelimit import THROTTLED_TEXT, admit
from .replies import Outgoing, render_reply
from .routing import Turn, route
from .start_turn import try_start

logger = logging.getLogger(__name__)

BUSY_TEXT = "系统繁忙，请稍后重新发送刚才的消息。"
MAX_FIELD_CHARS = 2000


@dataclass(frozen=True)
class Inbound:
    """The fields of a WeChat message we use, checked for type and size."""

    openid: str
    account: str  # ToUserName: our account id, the reply's FromUserName
    create_time: int
    msg_type: str
    msg_id: int
    content: str  # text content, or the event key for CLICK events
    event: str  # lower-case event name for events, "" otherwise
    raw: dict

    @property
    def dedupe_key(self) -> str:
        if self.msg_id:
            return f"msg:{self.msg_id}"
        return f"evt:{self.openid}:{self.create_time}"


def _field(data: dict, name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{name} is not text")
    if name == "Content":
        # A follower may paste a long text (the body limit stops hostile sizes): it is answered
        # like any text, read up to the limit (no answer or keyword is anywhere near as long).
        return value[:MAX_FIELD_CHARS]
    if len(value) > MAX_FIELD_CHARS:
        raise ValueError(f"{name} too long")
    return value.strip()


def _scan_to_subscribe(data: dict) -> dict:
    """A follow through a parametric QR code, as wechatpy reads it: event subscribe_scan, the scene as key."""
    key = data.get("EventKey")
    if (str(data.get("Event", "")).lower() == "subscribe" and isinstance(key, str)
            and key.startswith("qrscene_")):
        return {**data, "Event": "subscribe_scan", "EventKey": key[len("qrscene_"):]}
    return data


def inbound_from(fields: dict) -> Inbound:
    """Extract and check the fields of a message's parsed <xml> element; ValueError if unusable.

    The fields come straight from the XML (webhook: wechat_xml.parse_fields), so each is checked for type
    and size here, never trusted.
    """
    data = _scan_to_subscribe(fields)
    msg_type = _field(data, "MsgType").lower()
    if not msg_type:
        raise ValueError("missing MsgType")
    openid = _field(data, "FromUserName")
    account = _field(data, "ToUserName")
    if not openid or not account or len(openid) > 64 or len(account) > 64:
        raise ValueError("missing or oversized FromUserName/ToUserName")
    create_time = int(_field(data, "CreateTime") or "x")
    msg_id_text = _field(data, "MsgId") or _field(data, "MsgID")
    event = _field(data, "Event").lower() if msg_type == "event" else ""
    msg_id = int(msg_id_text) if msg_id_text and msg_type != "event" else 0
    if not (0 <= create_time < 2**63 and 0 <= msg_id < 2**63):  # the BIGINT columns and the dedupe key
        raise ValueError("CreateTime or MsgId out of range")
    content = _field(data, "Content") if msg_type == "text" else _field(data, "EventKey")
    return Inbound(openid=openid, account=account, create_time=create_time, msg_type=msg_type,
                   msg_id=msg_id, content=content, event=event, raw=data)


def _stored_reply(runtime, key: str) -> str | None:
    with runtime.db.reader() as session:
        return session.scalar(select(InboundMessage.reply).where(InboundMessage.dedupe_key == key))


def process_message(*, runtime, inbound: Inbound, now: dt.datetime | None = None) -> str:
    """Handle a message once and return the reply XML ("" means reply "success")."""
    key = inbound.dedupe_key
    now = now or runtime.clock()
    try:
        quick = _quick_turn(runtime, inbound, now)
        if isinstance(quick, str):
            return quick
        with runtime.db.session() as session:
            existing = session.scalar(select(InboundMessage.reply).where(InboundMessage.dedupe_key == key))
            if existing is not None:
                logger.info("duplicate %s from %s: stored reply", key, short_openid(inbound.openid))
                return existing
            # After the dedupe lookup, so a retry of an answered message still gets its reply; an
            # over-limit message is stored with the throttled reply, so its retries change nothing either.
            if admit(session=session, settings=runtime.config.ratelimit, openid=inbound.openid,
                     msg_type=inbound.msg_type, event=inbound.event, now=now,
                     counted=quick.count if isinstance(quick, Counted) else None).allowed:
                out = route(Turn(session=session, runtime=runtime, inbound=inbound, now=now))
            else:
                out = Outgoing(text=THROTTLED_TEXT)
            reply = render_reply(out, to_user=inbound.openid, from_user=inbound.account,
                                 create_time=inbound.create_time)
            # The unique key is claimed with everything the message changed: a copy processed
            # concurrently fails here, its whole transaction rolls back, and it answers with ours.
            session.add(InboundMessage(dedupe_key=key, openid=inbound.openid,
                                       msg_type=inbound.event or inbound.msg_type,
                                       create_time=inbound.create_time, received_at=now, reply=reply))
    except IntegrityError:
        # Another copy of the same message committed first: answer exactly as it did.
        stored = _stored_reply(runtime, key)
        if stored is not None:
            logger.info("concurrent duplicate %s: stored reply", key)
            return stored
        logger.exception("integrity error handling %s", key)
        return _busy(inbound)
    except OperationalError as exc:
        # One line, not a traceback per message while the database is down or locked.
        logger.warning("database unavailable while handling %s: %s", key, describe_db_error(exc))
        return _busy(inbound)
    except SQLAlchemyError:
        logger.exception("database error handling %s", key)
        return _busy(inbound)
    except Exception:  # noqa: BLE001 - a follower must never see an error page
        logger.exception("unexpected error handling %s", key)
        return _busy(inbound)
    return reply


def _quick_turn(runtime, inbound: Inbound, now: dt.datetime) -> str | Counted | None:
    """The two turns that make up nearly all traffic, on the driver connection: starting the quiz
    and answering a question. None (or Counted) sends the message the general way (route)."""
    text = inbound.content
    if inbound.msg_type != "text" or not text:
        return None
    action = match_action(runtime.config, text)
    if action == "quiz":
        return try_start(runtime, inbound, now)
    if action or menu_key(runtime.config, text):
        return None
    return try_answer(runtime, inbound, now)


def _busy(inbound: Inbound) -> str:
    """Tell the follower to resend; nothing was stored, so their resend is processed afresh."""
    if inbound.msg_type == "event" and inbound.event not in ("click", "subscribe"):
        return ""
    return render_reply(Outgoing(text=BUSY_TEXT), to_user=inbound.openid, from_user=inbound.account,
                        create_time=int(time.time()))
