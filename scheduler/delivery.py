"""Record WeChat's MASSSENDJOBFINISH delivery figures against the push they report on.

The one writer of delivery figures; the conversation engine calls it inside the write
transaction of the event that carries them, so a repeated event changes nothing twice.
"""
from __future__ import annotations

import datetime as dt
import json
import logging

from bot.config import Config
from bot.storage.driver_sql import DriverConnection, Statement
from scheduler.pushlog import CHUNK_PREFIX

logger = logging.getLogger(__name__)

COUNT_FIELDS = (("TotalCount", "total_count"), ("FilterCount", "filter_count"),
                ("SentCount", "sent_count"), ("ErrorCount", "error_count"))

_VALUE = Statement("SELECT value FROM kv_store WHERE key = :key")
_SET_VALUE = Statement("UPDATE kv_store SET value = :value WHERE key = :key")
_CHUNKS = Statement("SELECT value FROM kv_store WHERE key LIKE :prefix")
_PUSH_BY_KEY = Statement("SELECT key FROM push_log WHERE key = :key")
_PUSH_BY_MSG = Statement("SELECT key FROM push_log WHERE msg_id = :msg_id ORDER BY key LIMIT 1")
_DELIVERED = Statement("""
    UPDATE push_log SET status = 'delivered', delivery_status = :status, total_count = :total_count,
           filter_count = :filter_count, sent_count = :sent_count, error_count = :error_count, finished_at = :now
    WHERE key = :key
""")


def _counts(fields: dict) -> dict[str, int]:
    counts = {}
    for name, column in COUNT_FIELDS:
        try:
            # Clamped: the columns are 32-bit and the figures come from a signed but untrusted body.
            counts[column] = min(max(int(str(fields.get(name, "")).strip()), 0), 2**31 - 1)
        except ValueError:
            counts[column] = 0
    return counts


def _chunk_totals(conn: DriverConnection, key: str) -> dict[str, int]:
    """Sum the figures of every chunk of a push sent in several openid chunks."""
    totals = {column: 0 for _, column in COUNT_FIELDS}
    for (value,) in conn.rows(_CHUNKS, {"prefix": CHUNK_PREFIX + "%"}):
        data = json.loads(value)
        if data.get("key") == key and data.get("counts"):
            for column in totals:
                totals[column] += int(data["counts"].get(column, 0))
    return totals


def record_delivery(conn: DriverConnection, fields: dict, *, now: dt.datetime) -> bool:
    """Store a MASSSENDJOBFINISH event's figures on its push; return False if no push has that MsgID."""
    msg_id = str(fields.get("MsgID") or fields.get("MsgId") or "").strip()
    if not msg_id:
        return False
    counts = _counts(fields)
    chunk = conn.rows(_VALUE, {"key": CHUNK_PREFIX + msg_id})
    if chunk:
        data = json.loads(chunk[0][0])
        data["counts"] = counts
        conn.execute(_SET_VALUE, {"key": CHUNK_PREFIX + msg_id, "value": json.dumps(data)})
        found = conn.rows(_PUSH_BY_KEY, {"key": data["key"]})
        if found:
            counts = _chunk_totals(conn, data["key"])
    else:
        found = conn.rows(_PUSH_BY_MSG, {"msg_id": msg_id})
    if not found:
        logger.info("delivery report for unknown msg_id %s ignored", msg_id)
        return False
    key = found[0][0]
    conn.execute(_DELIVERED, {"key": key, "status": str(fields.get("Status", ""))[:64],
                              "now": conn.stored_time(now), **counts})
    logger.info("push %s delivered: %s of %s sent (%s)", key, counts["sent_count"], counts["total_count"],
                fields.get("Status", ""))
    return True


def write_delivery(conn: DriverConnection, change, *, now: dt.datetime, config: Config) -> None:
    """The engine's writer for a RecordDelivery change."""
    record_delivery(conn, change.fields, now=now)
