"""Selection rules, tier parsing and the [export] config table, without a database."""
from __future__ import annotations

import datetime as dt

import pytest

from bot.config import ConfigError
from exports.queries import score_distribution
from exports.settings import ExportSettings, export_settings
from exports.winners import DEFAULT_TIER, Player, RuleError, Tier, eligible_digest, parse_tiers, select_winners
from tests.conftest import make_config

T0 = dt.datetime(2027, 4, 21, 2, 0)


def player(openid, score, seconds, *, finished=0, attempt_id=None, name="张三", phone=None):
    return Player(openid=openid, attempt_id=int(openid[1:]) if attempt_id is None else attempt_id, score=score, max_score=100,
                  duration_seconds=seconds, finished_at=T0 + dt.timedelta(minutes=finished), name=name,
                  phone=phone if phone is not None else f"1380000{int(openid[1:]):04d}")


PLAYERS = [player(f"p{i}", 60 + i % 5 * 10, 100 + i % 7, finished=i) for i in range(1, 41)]


def test_top_orders_by_score_time_finish_then_id():
    players = [player("p1", 90, 200, finished=5), player("p2", 90, 100, finished=9), player("p3", 90, 200, finished=1),
               player("p4", 90, 200, finished=1, attempt_id=0), player("p5", 100, 900)]
    draw = select_winners(players, rule="top", tiers=(Tier("一等奖", 1), Tier("二等奖", 4)), pass_score=60)
    assert [(w.tier, w.rank, w.player.openid) for w in draw.winners] == [
        ("一等奖", 1, "p5"), ("二等奖", 2, "p2"), ("二等奖", 3, "p4"), ("二等奖", 4, "p3"), ("二等奖", 5, "p1")]


def test_lottery_depends_only_on_seed_and_data():
    tiers = (Tier("一等奖", 2), Tier("二等奖", 3))
    first = select_winners(PLAYERS, rule="lottery", tiers=tiers, seed="426", pass_score=80)
    shuffled = select_winners(list(reversed(PLAYERS)), rule="lottery", tiers=tiers, seed="426", pass_score=80)
    assert first.winners == shuffled.winners and first.digest == shuffled.digest
    assert all(w.player.score >= 80 for w in first.winners)
    other = select_winners(PLAYERS, rule="lottery", tiers=tiers, seed="427", pass_score=80)
    assert [w.player for w in other.winners] != [w.player for w in first.winners]
    changed = select_winners([p for p in PLAYERS if p.openid != "p3"], rule="lottery", tiers=tiers, seed="426", pass_score=80)
    assert changed.digest != first.digest


def test_digest_is_of_the_canonical_list():
    assert eligible_digest([player("p2", 80, 10), player("p1", 90, 20)]) == eligible_digest(
        [player("p1", 90, 20), player("p2", 80, 10)])


def test_one_prize_per_phone_keeps_the_better_standing():
    players = [player("p1", 80, 300, phone="13800138000"), player("p2", 90, 300, phone="138 0013 8000"),
               player("p3", 80, 100)]
    draw = select_winners(players, rule="top", tiers=(Tier(DEFAULT_TIER, 3),), pass_score=60)
    assert [w.player.openid for w in draw.winners] == ["p2", "p3"]
    assert draw.skipped_duplicate_phone == 1


def test_contact_required_and_exclusions():
    players = [player("p1", 90, 100, name="", phone=""), player("p2", 80, 100), player("p3", 70, 100)]
    draw = select_winners(players, rule="top", tiers=(Tier(DEFAULT_TIER, 3),), pass_score=60, exclude={"p3"})
    assert [w.player.openid for w in draw.winners] == ["p2"]
    assert (draw.skipped_no_contact, draw.excluded) == (1, ("p3",))
    loose = select_winners(players, rule="top", tiers=(Tier(DEFAULT_TIER, 3),), pass_score=60,
                           require_contact=False)
    assert [w.player.openid for w in loose.winners] == ["p1", "p2", "p3"]


def test_tiers_text():
    assert parse_tiers("一等奖:5，二等奖：10, 三等奖:20") == (Tier("一等奖", 5), Tier("二等奖", 10), Tier("三等奖", 20))
    for bad in ("一等奖", "一等奖:0", ":5", "一等奖:5,一等奖:3", ""):
        with pytest.raises(RuleError):
            parse_tiers(bad)
    with pytest.raises(RuleError, match="--rule"):
        select_winners(PLAYERS, rule="best", tiers=(Tier("x", 1),), pass_score=0)


def test_export_settings():
    assert export_settings(make_config()) == ExportSettings()
    config = make_config({"export": {"rule": "lottery", "tiers": [{"name": "一等奖", "count": 5}],
                                     "exclude_openids": ["staff-1"], "require_contact": False}})
    assert export_settings(config) == ExportSettings(rule="lottery", tiers=(Tier("一等奖", 5),),
                                                     exclude_openids=("staff-1",), require_contact=False)
    assert export_settings(make_config({"export": {"count": 3}})).tiers == (Tier(DEFAULT_TIER, 3),)


@pytest.mark.parametrize("table,message", [
    ({"rule": "best"}, "export.rule"),
    ({"tiers": [{"name": "一等奖"}]}, "export.tiers"),
    ({"tiers": "一等奖:5"}, "export.tiers"),
    ({"count": 0}, "export.count"),
    ({"require_contact": "yes"}, "export.require_contact"),
    ({"exclude_openids": "o1"}, "export.exclude_openids"),
])
def test_export_settings_errors_name_file_and_key(table, message):
    with pytest.raises(ConfigError, match=f"^test.toml: {message}"):
        export_settings(make_config({"export": table}))


def test_score_distribution_bands_above_100():
    assert score_distribution([(0, 1), (50, 2)], max_score=50) == (("0分", 1), ("50分", 2))
    assert score_distribution([(95, 1), (99, 2), (120, 1)], max_score=120) == (("90-99分", 3), ("120-129分", 1))


def test_places_beyond_the_players_cost_nothing():
    """Tier names are handed out lazily: a huge place count never builds a list of every place."""
    draw = select_winners(PLAYERS, rule="top", tiers=(Tier("一等奖", 1), Tier("二等奖", 10**20)), pass_score=0,
                          require_contact=False)
    assert [w.tier for w in draw.winners] == ["一等奖"] + ["二等奖"] * (len(draw.eligible) - 1)
