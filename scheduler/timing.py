"""When a push is due, missed or done: pure rules over its push-log status and the clock."""
from __future__ import annotations

import datetime as dt

FINAL = frozenset({"sent", "delivered", "failed", "missed"})
SENT = frozenset({"sent", "delivered"})

WAIT = "wait"
SEND = "send"
MISS = "miss"
INTERRUPTED = "interrupted"
DONE = "done"

STATUS_LABELS = {
    "planned": "待发送",
    "previewed": "已预览",
    "sending": "发送中",
    "sent": "已发送",
    "delivered": "已送达",
    "failed": "失败",
    "missed": "已错过",
}


def due_action(*, status: str, planned_at: dt.datetime, now: dt.datetime, grace: dt.timedelta) -> str:
    """Decide what the scheduler does with a push now (all times naive UTC)."""
    if status in FINAL:
        return DONE
    if now < planned_at:
        return WAIT
    if now - planned_at <= grace:
        return SEND
    # Left "sending" by a crash long ago: resending now could reach followers days late.
    return INTERRUPTED if status == "sending" else MISS
