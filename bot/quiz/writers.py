"""The writers of the quiz's state: attempts, their items, the best attempt, prize contact details.

Each is the only code that makes its change. They run inside the engine's write transaction on
the driver connection; a guarded write raises Conflict when the attempt moved since it was read.
"""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy.exc import IntegrityError

from bot.config import Config
from bot.quiz.rules import ACTIVE
from bot.quiz.changes import MarkBest, MoveAttempt, RecordAnswer, StartAttempt, StoreContact
from bot.storage.driver_sql import Conflict, DriverConnection, Statement

_NEW_ATTEMPT = Statement("""
    INSERT INTO attempts (openid, bank_id, status, started_at, local_day, last_activity_at, total_questions,
                          current_index, score, max_score, correct_count, last_answer_create_time, best)
    VALUES (:openid, :bank_id, 'active', :now, :today, :now, :total, 0, 0, :max_score, 0, :create_time, :no)
    RETURNING id
""")
_NEW_ITEM = Statement("""
    INSERT INTO attempt_items (attempt_id, position, question_id, snapshot, option_order, points_awarded)
    VALUES (:attempt_id, :position, :question_id, :snapshot, :option_order, 0)
""")
_RECORD = Statement("""
    UPDATE attempt_items SET response = :response, original_choice = :original, correct = :correct,
           points_awarded = :points, answered_at = :now
    WHERE attempt_id = :id AND position = :index
""")
# Moving on leaves the indexed status alone (SQLite rewrites an index entry whenever its column is set).
_ADVANCE = Statement("""
    UPDATE attempts SET current_index = :next_index, score = :score, correct_count = :correct_count,
           last_activity_at = :last_activity_at, last_answer_create_time = :create_time
    WHERE id = :id AND status = 'active' AND current_index = :index
""")
_END = Statement("""
    UPDATE attempts SET current_index = :next_index, score = :score, correct_count = :correct_count,
           last_activity_at = :last_activity_at, last_answer_create_time = :create_time, status = :status,
           finished_at = :finished_at, duration_seconds = :duration
    WHERE id = :id AND status = 'active' AND current_index = :index
""")
_MARK_BEST = Statement("UPDATE attempts SET best = (id = :id) WHERE openid = :openid AND (best = :yes OR id = :id)")
_CONTACT = Statement("UPDATE followers SET name = :name, phone = :phone, contact_at = :now WHERE openid = :openid")
_DETAILS = Statement("""
    INSERT INTO registrations (openid, unit, district, id_number, address, updated_at)
    VALUES (:openid, :unit, :district, :id_number, :address, :now)
    ON CONFLICT (openid) DO UPDATE SET
        unit = coalesce(excluded.unit, registrations.unit),
        district = coalesce(excluded.district, registrations.district),
        id_number = coalesce(excluded.id_number, registrations.id_number),
        address = coalesce(excluded.address, registrations.address),
        updated_at = excluded.updated_at
""")


def start_attempt(conn: DriverConnection, change: StartAttempt, *, now: dt.datetime, config: Config) -> None:
    """Create an active attempt with its drawn items; Conflict if the player already has one."""
    params = {"openid": change.openid, "bank_id": change.bank_id, "now": conn.stored_time(now),
              "today": conn.stored_date(change.local_day), "total": len(change.items), "max_score": change.max_score,
              "create_time": change.create_time, "no": False}
    try:
        attempt_id = conn.rows(_NEW_ATTEMPT, params)[0][0]
    except IntegrityError:
        raise Conflict from None  # a concurrent start won the one-active-attempt index
    conn.execute_many(_NEW_ITEM, [{"attempt_id": attempt_id, "position": i["position"],
                                   "question_id": i["question_id"], "snapshot": json.dumps(i["snapshot"]),
                                   "option_order": json.dumps(i["option_order"])} for i in change.items])


def record_answer(conn: DriverConnection, change: RecordAnswer, *, now: dt.datetime, config: Config) -> None:
    """Store a graded answer on its item (its attempt's MoveAttempt guards the turn)."""
    conn.write(_RECORD, {"id": change.attempt_id, "index": change.index, "response": change.response,
                           "original": change.original_choice, "correct": change.correct, "points": change.points,
                           "now": conn.stored_time(now)})


def move_attempt(conn: DriverConnection, change: MoveAttempt, *, now: dt.datetime, config: Config) -> None:
    """Advance or end an attempt; Conflict unless it is still active on the question that was read."""
    conn.write(_ADVANCE if change.status == ACTIVE else _END, {
        "id": change.attempt_id, "index": change.index, "next_index": change.next_index, "score": change.score,
        "correct_count": change.correct_count, "last_activity_at": conn.stored_time(change.last_activity_at),
        "create_time": change.last_answer_create_time, "status": change.status,
        "finished_at": conn.stored_time(change.finished_at) if change.finished_at else None,
        "duration": change.duration_seconds}, check=lambda changed: changed == 1)


def mark_best(conn: DriverConnection, change: MarkBest, *, now: dt.datetime, config: Config) -> None:
    """Make one attempt the player's best, so standings and ranks are one indexed query."""
    conn.write(_MARK_BEST, {"openid": change.openid, "id": change.attempt_id, "yes": True})


def store_contact(conn: DriverConnection, change: StoreContact, *, now: dt.datetime, config: Config) -> None:
    """Store (or overwrite) the name and mobile a qualified player sent, and the details they gave."""
    if change.phone is not None:
        conn.write(_CONTACT, {"openid": change.openid, "name": change.name, "phone": change.phone,
                                "now": conn.stored_time(now)})
    if change.details:
        values = {name: None for name in ("unit", "district", "id_number", "address")}
        values.update(dict(change.details))
        conn.write(_DETAILS, {"openid": change.openid, "now": conn.stored_time(now), **values})
