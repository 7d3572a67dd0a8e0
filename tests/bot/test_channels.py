"""Issue 18, channel codes: a follow or scan through a channel QR code is recorded against the follower."""
from __future__ import annotations

from sqlalchemy import select

from bot.storage.models import ChannelScan, FollowerChannel
from bot.wechat.simulator import event_xml


def scans(runtime) -> list[tuple[str, str, str]]:
    with runtime.db.reader() as session:
        return [(s.openid, s.scene, s.event) for s in session.scalars(select(ChannelScan).order_by(ChannelScan.id))]


def brought(runtime) -> dict[str, str]:
    with runtime.db.reader() as session:
        return {c.openid: c.scene for c in session.scalars(select(FollowerChannel))}


def test_the_first_channel_brings_the_follower_and_every_scan_counts(wechat, runtime):
    follow = wechat.event("o-ch-1", "subscribe", "qrscene_ch-001")
    assert "知识产权与创新发展" in follow.content  # the welcome
    again = wechat.event("o-ch-1", "SCAN", "ch-002")
    assert "知识产权与创新发展" in again.content
    wechat.event("o-ch-1", "SCAN", "ch-001")
    wechat.event("o-ch-2", "SCAN", "ch-002")  # scanned before following through any code
    wechat.event("o-ch-3", "subscribe")  # a follow without a code brings nobody
    assert brought(runtime) == {"o-ch-1": "ch-001", "o-ch-2": "ch-002"}
    assert scans(runtime) == [("o-ch-1", "ch-001", "subscribe"), ("o-ch-1", "ch-002", "scan"),
                              ("o-ch-1", "ch-001", "scan"), ("o-ch-2", "ch-002", "scan")]


def test_a_retried_scan_counts_once_and_gets_the_same_reply(wechat, runtime):
    xml = event_xml("o-ch-4", "SCAN", 1_900_000_000, "ch-003")
    first, retry = wechat.send_xml(xml), wechat.send_xml(xml)
    assert first.raw == retry.raw
    assert scans(runtime) == [("o-ch-4", "ch-003", "scan")]


def test_a_scan_during_the_quiz_reminds_of_the_question(wechat, runtime):
    from tests.conftest import load_bank

    load_bank(runtime.db)
    wechat.text("o-ch-5", "答题")
    reply = wechat.event("o-ch-5", "SCAN", "ch-001")
    assert "（答题进行中：当前第1/5题" in reply.content
