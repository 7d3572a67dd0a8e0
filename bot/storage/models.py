"""Database tables (SQLAlchemy 2.x typed models). All times are stored as naive UTC."""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import (JSON, BigInteger, Boolean, Date, DateTime, ForeignKey, Index, Integer,
                        String, Text, UniqueConstraint, text)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    """Return the current time as naive UTC, the form every column stores."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Follower(Base):
    """One WeChat user (openid) and what we know of them."""

    __tablename__ = "followers"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    subscribed: Mapped[bool] = mapped_column(Boolean, default=False)
    subscribed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    unsubscribed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    last_message_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    # Conversation state that is not an attempt (e.g. "contact" while we wait for name + phone).
    state: Mapped[Optional[str]] = mapped_column(String(32))
    name: Mapped[Optional[str]] = mapped_column(String(64))
    phone: Mapped[Optional[str]] = mapped_column(String(20))
    contact_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)


class InboundMessage(Base):
    """A processed message or event; the unique key makes a WeChat retry a no-op."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    msg_type: Mapped[str] = mapped_column(String(32))
    create_time: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    reply: Mapped[Optional[str]] = mapped_column(Text)  # plaintext reply XML, or "" for "success"


class Bank(Base):
    """A named question bank; re-import retires its old questions and adds new ones."""

    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(255), default="")
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    questions: Mapped[list["QuestionRow"]] = relationship(back_populates="bank")


class QuestionRow(Base):
    """A stored question. Retired rows stay so that attempts and statistics keep their link."""

    __tablename__ = "questions"
    __table_args__ = (Index("ix_questions_bank_active", "bank_id", "retired"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    position: Mapped[int] = mapped_column(Integer)
    qtype: Mapped[str] = mapped_column(String(8))  # 单选 多选 判断 填空
    stem: Mapped[str] = mapped_column(Text)
    options: Mapped[list[Any]] = mapped_column(JSON, default=list)
    answer: Mapped[list[Any]] = mapped_column(JSON)  # letters, [True/False], or accepted texts
    explanation: Mapped[str] = mapped_column(Text, default="")
    points: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(64), default="")
    retired: Mapped[bool] = mapped_column(Boolean, default=False)

    bank: Mapped[Bank] = relationship(back_populates="questions")


class Attempt(Base):
    """One play of the quiz by one follower."""

    __tablename__ = "attempts"
    __table_args__ = (
        # One active attempt per player, enforced by the database.
        Index("uq_attempts_one_active", "openid", unique=True,
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
        Index("ix_attempts_openid_status", "openid", "status"),
        Index("ix_attempts_standing", "best", "score", "duration_seconds", "finished_at"),
        # The standing order itself (bot.quiz.rules.STANDING), so the leaderboard reads its top rows and stops.
        Index("ix_attempts_leaderboard", "best", text("score DESC"), "duration_seconds", "finished_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    openid: Mapped[str] = mapped_column(ForeignKey("followers.openid"))
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active finished expired abandoned
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    local_day: Mapped[dt.date] = mapped_column(Date)  # activity-local date of the start, for daily limits
    last_activity_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    total_questions: Mapped[int] = mapped_column(Integer)
    current_index: Mapped[int] = mapped_column(Integer, default=0)  # 0-based position being asked
    score: Mapped[int] = mapped_column(Integer, default=0)
    max_score: Mapped[int] = mapped_column(Integer, default=0)
    correct_count: Mapped[int] = mapped_column(Integer, default=0)
    duration_seconds: Mapped[Optional[int]] = mapped_column(Integer)
    # CreateTime of the message that graded the last answer: an older or equal one is a double tap.
    last_answer_create_time: Mapped[int] = mapped_column(BigInteger, default=0)
    # True on the player's best completed attempt, so standing and rank are one indexed query.
    best: Mapped[bool] = mapped_column(Boolean, default=False)

    items: Mapped[list["AttemptItem"]] = relationship(back_populates="attempt", order_by="AttemptItem.position")


class AttemptItem(Base):
    """A question as drawn (and shuffled) for one attempt, and the answer given to it."""

    __tablename__ = "attempt_items"
    __table_args__ = (UniqueConstraint("attempt_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"), index=True)
    # The question as the player sees it: type, stem, shuffled options, answer in shown letters.
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Maps shown option index -> original option index, for statistics on the original options.
    option_order: Mapped[list[Any]] = mapped_column(JSON, default=list)
    response: Mapped[Optional[str]] = mapped_column(Text)  # normalised answer as graded
    original_choice: Mapped[Optional[str]] = mapped_column(String(16))  # chosen letters, original order
    correct: Mapped[Optional[bool]] = mapped_column(Boolean)
    points_awarded: Mapped[int] = mapped_column(Integer, default=0)
    answered_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)

    attempt: Mapped[Attempt] = relationship(back_populates="items")


class PushLog(Base):
    """What happened to one planned push (keyed by the plan's key)."""

    __tablename__ = "push_log"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(16), default="")
    planned_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), default="planned")
    client_msg_id: Mapped[str] = mapped_column(String(64), default="")
    msg_id: Mapped[Optional[str]] = mapped_column(String(64), index=True)
    media_id: Mapped[Optional[str]] = mapped_column(String(255))
    tries: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    sent_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    previewed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    finished_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    error: Mapped[str] = mapped_column(Text, default="")
    delivery_status: Mapped[Optional[str]] = mapped_column(String(64))
    total_count: Mapped[Optional[int]] = mapped_column(Integer)
    filter_count: Mapped[Optional[int]] = mapped_column(Integer)
    sent_count: Mapped[Optional[int]] = mapped_column(Integer)
    error_count: Mapped[Optional[int]] = mapped_column(Integer)


class KeyValue(Base):
    """Small shared values with an expiry: the access token lives here for every process."""

    __tablename__ = "kv_store"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)


class Lease(Base):
    """A named lease: only its holder may act until it expires (one scheduler at a time)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class FairPlayClearance(Base):
    """Staff cleared a flagged player (bot.quiz.fairplay) after review: who, when, why. Kept, never edited."""

    __tablename__ = "fairplay_clearances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    cleared_by: Mapped[str] = mapped_column(String(64))  # the staff member's name, as they typed it
    cleared_at: Mapped[dt.datetime] = mapped_column(DateTime)
    note: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(String(64), default="")


class FinalDraw(Base):
    """A draw staff confirmed as final: the rule, seed and the eligible list's digest to check it by.

    Never edited: confirming another draw later adds a new record beside it; the newest is the one in force.
    """

    __tablename__ = "final_draws"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    drawn_at: Mapped[dt.datetime] = mapped_column(DateTime)
    source: Mapped[str] = mapped_column(String(16))  # 后台 or 命令行
    drawn_by: Mapped[str] = mapped_column(String(64), default="")
    rule: Mapped[str] = mapped_column(String(16))
    seed: Mapped[str] = mapped_column(String(64), default="")
    tiers: Mapped[str] = mapped_column(Text)  # "一等奖:1,二等奖:2"
    pass_score: Mapped[int] = mapped_column(Integer)
    require_contact: Mapped[bool] = mapped_column(Boolean)
    eligible_count: Mapped[int] = mapped_column(Integer)
    eligible_digest: Mapped[str] = mapped_column(String(64))
    winners_digest: Mapped[str] = mapped_column(String(64))


class FinalWinner(Base):
    """One prize of a final draw, as drawn (the contact details as they were at the draw)."""

    __tablename__ = "final_winners"
    __table_args__ = (Index("ix_final_winners_openid", "openid", "draw_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("final_draws.id"), index=True)
    openid: Mapped[str] = mapped_column(String(64))
    tier: Mapped[str] = mapped_column(String(64))
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")


class WinnerNotice(Base):
    """One try at telling a winner: the channel, and WeChat's answer (errcode 0 when sent)."""

    __tablename__ = "winner_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    winner_id: Mapped[int] = mapped_column(ForeignKey("final_winners.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # custom (客服消息) or tag (按标签群发) or openids
    errcode: Mapped[int] = mapped_column(Integer, default=0)
    errmsg: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class FollowerChannel(Base):
    """The channel (QR code scene) that first brought a follower: set once, by the first follow or scan."""

    __tablename__ = "follower_channels"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    scene: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class ChannelScan(Base):
    """Every follow or scan through a channel code (a follower may scan many codes, many times)."""

    __tablename__ = "channel_scans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    scene: Mapped[str] = mapped_column(String(64), index=True)
    event: Mapped[str] = mapped_column(String(16))  # subscribe (a follow through the code) or scan
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class Channel(Base):
    """A channel code: a permanent QR code (QR_LIMIT_STR_SCENE) whose scene tells where a follower came from."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scene: Mapped[str] = mapped_column(String(64), unique=True)  # scene_str: ASCII, 1-64 characters
    name: Mapped[str] = mapped_column(String(64), unique=True)
    ticket: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(String(255))  # what the code encodes (http://weixin.qq.com/q/...)
    image_path: Mapped[str] = mapped_column(String(1024), default="")  # "" until the image is saved
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Registration(Base):
    """A qualified player's details besides name and mobile ([registration] fields); deleted by data purge."""

    __tablename__ = "registrations"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    unit: Mapped[Optional[str]] = mapped_column(String(100))
    district: Mapped[Optional[str]] = mapped_column(String(100))
    id_number: Mapped[Optional[str]] = mapped_column(String(18))
    address: Mapped[Optional[str]] = mapped_column(String(100))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)
