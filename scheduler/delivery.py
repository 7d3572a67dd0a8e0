"""Record WeChat's MASSSENDJOBFINISH delivery figures against the push they report on."""
from __future__ import annotations

import json
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import KeyValue, PushLog, utcnow

from .pushlog import CHUNK_PREFIX

logger = logging.getLogger(__name__)

COUNT_FIELDS = (("TotalCount", "total_count"), ("FilterCount", "filter_count"),
                ("SentCount", "sent_count"), ("ErrorCount", "error_count"))


def _counts(fields: dict) -> dict[str, int]:
    counts = {}
    for name, column in COUNT_FIELDS:
        try:
            # Clamped: the columns are 32-bit and the figures come from a signed but untrusted body.
            counts[column] = min(max(int(str(fields.get(name, "")).strip()), 0), 2**31 - 1)
        except ValueError:
            counts[column] = 0
    return counts


def _chunk_totals(session: Session, key: str) -> dict[str, int]:
    """Sum the figures of every chunk of a push sent in several openid chunks."""
    totals = {column: 0 for _, column in COUNT_FIELDS}
    for row in session.scalars(select(KeyValue).where(KeyValue.key.like(CHUNK_PREFIX + "%"))):
        data = json.loads(row.value)
        if data.get("key") == key and data.get("counts"):
            for column in totals:
                totals[column] += int(data["counts"].get(column, 0))
    return totals


def record_delivery(*, session: Session, fields: dict) -> bool:
    """Store a MASSSENDJOBFINISH event's figures on its push; return False if no push has that MsgID."""
    msg_id = str(fields.get("MsgID") or fields.get("MsgId") or "").strip()
    if not msg_id:
        return False
    counts = _counts(fields)
    chunk = session.get(KeyValue, CHUNK_PREFIX + msg_id)
    if chunk is not None:
        data = json.loads(chunk.value)
        data["counts"] = counts
        chunk.value = json.dumps(data)
        session.flush()
        row = session.get(PushLog, data["key"])
        counts = _chunk_totals(session, data["key"]) if row is not None else counts
    else:
        row = session.scalars(select(PushLog).where(PushLog.msg_id == msg_id)).first()
    if row is None:
        logger.info("delivery report for unknown msg_id %s ignored", msg_id)
        return False
    row.status = "delivered"
    row.delivery_status = str(fields.get("Status", ""))[:64]
    for column, value in counts.items():
        setattr(row, column, value)
    row.finished_at = utcnow()
    logger.info("push %s delivered: %s of %s sent (%s)", row.key, row.sent_count, row.total_count,
                row.delivery_status)
    return True
