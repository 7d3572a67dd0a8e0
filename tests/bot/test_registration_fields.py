"""Issue 18, registration fields: 工作单位, 所在区县, 身份证号, 通讯地址 as configured, in one message or one at a time."""
from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy import select

from bot.config import ConfigError
from bot.quiz.details import id_number_ok, mask_id
from bot.storage.models import Follower, Registration
from tests.bot.test_quiz_flow import TICKS, play
from tests.conftest import load_bank, make_config

ID = "110105199003071239"  # a valid resident ID (check character 9)
DISTRICTS = ["新华区", "桥西区", "长安区"]
ALL = {"fields": ["unit", "district", "id_number", "address"], "required": ["unit", "district"],
       "districts": DISTRICTS}


@pytest.fixture
def config_overrides():
    return {"registration": ALL}


def qualify(wechat, runtime, openid):
    load_bank(runtime.db)
    wechat.text(openid, "答题")
    reply = play(wechat, runtime, openid, correct=5)
    assert "请回复“姓名 手机号”登记领奖信息" in reply.content


def say(wechat, openid, text):
    return wechat.text(openid, text, create_time=next(TICKS)).content


def stored(runtime, openid) -> dict:
    with runtime.db.reader() as session:
        follower = session.get(Follower, openid)
        row = session.get(Registration, openid)
        values = {"name": follower.name, "phone": follower.phone}
        if row:
            values.update({k: getattr(row, k) for k in ("unit", "district", "id_number", "address")
                           if getattr(row, k)})
        return values


def test_everything_in_one_message_is_stored_and_echoed_masked(wechat, runtime, caplog):
    caplog.set_level(logging.DEBUG)
    qualify(wechat, runtime, "r1")
    reply = say(wechat, "r1", f"我叫王五，电话13912345678，单位：市第一中学，区县：新华，身份证：{ID}，地址：新华路1号3单元")
    assert reply.startswith("已登记领奖信息：王五，手机号 139****5678，工作单位 市第一中学，所在区县 新华区，"
                            "身份证号 1101**********1239，通讯地址 新华路1号3***。\n如需修改")
    assert stored(runtime, "r1") == {"name": "王五", "phone": "13912345678", "unit": "市第一中学", "district": "新华区",
                                     "id_number": ID, "address": "新华路1号3单元"}
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert ID not in logged and "13912345678" not in logged and "新华路1号3单元" not in logged


def test_one_field_at_a_time_as_asked_with_a_keyword_in_between(wechat, runtime):
    qualify(wechat, runtime, "r2")
    assert say(wechat, "r2", "李四 13800138000") == ("已登记领奖信息：李四，手机号 138****8000。\n"
                                                     "请回复你的工作单位，例如：市第一中学")
    assert say(wechat, "r2", "市知识产权局").endswith("\n请回复你的所在区县，可选：新华区、桥西区、长安区")
    assert "回复以下关键词" in say(wechat, "r2", "帮助")
    assert say(wechat, "r2", "朝阳").startswith("「朝阳」不在本次活动的区县中，请从以下选择一个：新华区、桥西区、长安区")
    done = say(wechat, "r2", "桥西")
    assert done.startswith("已更新领奖信息：李四，手机号 138****8000，工作单位 市知识产权局，所在区县 桥西区。\n如需修改")
    assert stored(runtime, "r2")["district"] == "桥西区"
    assert "没有听懂" in say(wechat, "r2", "今天天气不错")  # nothing is awaited any more


def test_a_wrong_id_number_is_refused_masked_and_a_field_can_be_corrected_later(wechat, runtime):
    qualify(wechat, runtime, "r3")
    say(wechat, "r3", "赵六 13600136000 单位：市二中 区县：长安区")
    wrong = ID[:-1] + "8"
    reply = say(wechat, "r3", f"身份证：{wrong}")
    assert reply.startswith(f"身份证号「{mask_id(wrong)}」校验不通过（应为18位，最后一位可为X），请核对后重新发送")
    assert "id_number" not in stored(runtime, "r3") and wrong not in reply
    assert say(wechat, "r3", "单位：市第三中学").startswith("已更新领奖信息：赵六，手机号 136****6000，工作单位 市第三中学，所在区县 长安区。")


@pytest.mark.parametrize("fields", [[], ["unit"], ["district"], ["id_number"], ["address"],
                                    ["unit", "district"], ["id_number", "address"], ALL["fields"]])
def test_every_field_combination_registers_in_one_message(fields, runtime, clock, db_url):
    from bot.app import create_app
    from bot.runtime import Runtime
    from bot.wechat.simulator import WeChatSimulator
    from tests.conftest import flask_poster

    config = make_config({"registration": {"fields": fields, "districts": DISTRICTS}}, db_url)
    sim = WeChatSimulator(token="spamtest", post=flask_poster(create_app(runtime=Runtime(config, runtime.db,
                                                                                          clock=clock)).test_client()))
    qualify(sim, runtime, "r4")
    parts = {"unit": "单位：市一中", "district": "区县：新华区", "id_number": f"身份证：{ID}", "address": "地址：新华路1号"}
    reply = say(sim, "r4", "王五 13912345678 " + " ".join(parts[f] for f in fields))
    assert reply.startswith("已登记领奖信息：王五，手机号 139****5678")
    assert "请回复你的" not in reply  # nothing left to ask
    assert set(stored(runtime, "r4")) == {"name", "phone", *fields}


def test_the_id_checksum_and_date():
    assert id_number_ok(ID) and id_number_ok("11010519491231002X")
    assert not id_number_ok(ID[:-1] + "0") and not id_number_ok("110105199013071239")  # month 13


def test_data_purge_removes_every_field(wechat, runtime, clock):
    from bot.storage.privacy import purge_contacts

    qualify(wechat, runtime, "r5")
    say(wechat, "r5", f"王五 13912345678 单位：市一中 区县：新华 身份证：{ID}")
    with runtime.db.session() as session:
        purge_contacts(session=session, before_utc=clock() + dt.timedelta(days=1))
    with runtime.db.reader() as session:
        assert session.scalars(select(Registration)).all() == []
        assert session.get(Follower, "r5").phone is None


@pytest.mark.parametrize("registration, message", [
    ({"fields": ["school"]}, "registration.fields: school 不是可登记的项"),
    ({"fields": ["district"]}, "registration.districts: 登记“所在区县”时应列出可选的区县"),
    ({"fields": ["unit"], "required": ["address"]}, "registration.required: address 不在 registration.fields 中"),
    ({"field": ["unit"]}, "是否想写 registration.fields"),
])
def test_config_errors_name_the_key(registration, message):
    with pytest.raises(ConfigError) as err:
        make_config({"registration": registration})
    assert message in str(err.value)
