"""One inbound message or event as the conversation reads it: its fields, checked for type and size."""
from __future__ import annotations

from dataclasses import dataclass

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
    signed: str = ""  # "timestamp:nonce" of the signed request that brought it; one message may use it

    @property
    def dedupe_key(self) -> str:
        """What makes a copy of this message the same message: its sender with its MsgId (a MsgId is
        not unique across senders), or for an event its sender and CreateTime."""
        if self.msg_id:
            return f"msg:{self.openid}:{self.msg_id}"
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


def inbound_from(fields: dict, signed: str = "") -> Inbound:
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
                   msg_id=msg_id, content=content, event=event, raw=data, signed=signed[:200])
