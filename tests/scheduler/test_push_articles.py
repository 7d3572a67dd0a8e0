"""Articles go out as WeChat now requires: a draft (draft/add) mass-sent by its media_id."""
from __future__ import annotations

import requests

from bot.storage.models import PushLog
from scheduler.payloads import describe_error
from scheduler.plan import build_plan
from scheduler.sending import preview_push, send_push

from tests.scheduler.conftest import local_now

BODY = "<p>企业商标品牌保护的五个要点。</p>"


def article(**extra):
    return {"key": "talk-1", "title": "专家线上讲座：商标保护", "kind": "article", "at": local_now(3600),
            "content": BODY, "description": "讲座摘要", "audience": "tag:100", **extra}


def test_article_content_becomes_a_draft_that_the_preview_and_the_send_share(sched_make, sched_standin, sched_db,
                                                                             tmp_path):
    (tmp_path / "cover.jpg").write_bytes(b"\xff\xd8" + b"\x00" * 1022)
    runtime = sched_make(pushes=[article(cover="cover.jpg")])
    push = build_plan(runtime.config)[0]
    assert preview_push(runtime=runtime, push=push, openid="staff-openid").ok
    [cover] = sched_standin.calls("material/add_material")
    assert cover["query"]["type"] == "image"
    assert cover["body"]["files"] == {"media": {"filename": "cover.jpg", "size": 1024}}
    [draft] = sched_standin.drafts()
    assert sched_standin.bodies("message/mass/preview") == [
        {"touser": "staff-openid", "mpnews": {"media_id": draft}, "msgtype": "mpnews", "send_ignore_reprint": 0}]

    result = send_push(runtime=runtime, push=push)
    assert result.status == "sent"
    thumb = sched_standin.bodies("draft/add")[0]["articles"][0]["thumb_media_id"]
    assert thumb.startswith("standin_media_")
    assert sched_standin.bodies("draft/add") == [{"articles": [{
        "article_type": "news", "title": "专家线上讲座：商标保护", "content": BODY, "thumb_media_id": thumb,
        "digest": "讲座摘要"}]}]  # one draft: the send reused the preview's
    assert sched_standin.bodies("message/mass/sendall") == [{
        "filter": {"is_to_all": False, "tag_id": 100}, "mpnews": {"media_id": draft}, "msgtype": "mpnews",
        "send_ignore_reprint": 0, "clientmsgid": "ipweek-talk-1"}]
    assert len(sched_standin.calls("material/add_material")) == 1
    assert sched_standin.drafts() == {}  # a mass-sent draft leaves the drafts box
    assert sched_standin.calls("material/add_news") == []
    with sched_db.reader() as session:
        assert session.get(PushLog, "talk-1").media_id == draft


def test_an_edited_article_gets_a_new_draft(sched_make, sched_standin, sched_db):
    runtime = sched_make(pushes=[article(thumb_media_id="thumb-1")])
    assert preview_push(runtime=runtime, push=build_plan(runtime.config)[0], openid="staff-openid").ok
    edited = sched_make(pushes=[article(thumb_media_id="thumb-1", content="<p>改过的正文</p>")])
    assert send_push(runtime=edited, push=build_plan(edited.config)[0]).status == "sent"
    drafts = sched_standin.bodies("draft/add")
    assert [d["articles"][0]["content"] for d in drafts] == [BODY, "<p>改过的正文</p>"]
    assert {d["articles"][0]["thumb_media_id"] for d in drafts} == {"thumb-1"}
    assert sched_standin.calls("material/add_material") == []
    [(preview_draft, sent_draft)] = [(sched_standin.bodies("message/mass/preview")[0]["mpnews"]["media_id"],
                                      sched_standin.bodies("message/mass/sendall")[0]["mpnews"]["media_id"])]
    assert preview_draft != sent_draft
    assert list(sched_standin.drafts()) == [preview_draft]  # the previewed one is left, not sent


def test_an_article_without_a_cover_fails_before_any_call(sched_make, sched_standin, sched_db):
    runtime = sched_make(pushes=[article()])
    result = send_push(runtime=runtime, push=build_plan(runtime.config)[0])
    assert result.status == "failed"
    assert result.error == "没有封面：新建草稿需要 cover（本地图片文件）或 thumb_media_id"
    assert sched_standin.calls("draft/add") == [] and sched_standin.calls("message/mass/sendall") == []
    with sched_db.reader() as session:
        assert session.get(PushLog, "talk-1").error == result.error


def test_a_refused_draft_is_reported_and_nothing_is_sent(sched_make, sched_standin, sched_db):
    runtime = sched_make(pushes=[article(thumb_media_id="temporary-id")])
    sched_standin.fail("draft/add", 40007)
    result = send_push(runtime=runtime, push=build_plan(runtime.config)[0])
    assert result.status == "failed" and result.error.startswith("40007 ")
    assert "草稿封面须用永久图片素材 id" in result.error
    assert sched_standin.calls("message/mass/sendall") == []


def test_standin_refuses_new_permanent_news_material_like_wechat(sched_standin):
    token = sched_standin.token()
    news = {"articles": [{"title": "讲座", "thumb_media_id": "t", "content": BODY}]}
    answer = requests.post(f"{sched_standin.api_base}material/add_news", params={"access_token": token}, json=news,
                           timeout=5).json()
    assert answer["errcode"] == 45106 and "unsupported" in answer["errmsg"]
    assert "请改用草稿箱" in describe_error(answer["errcode"], answer["errmsg"])
    made = requests.post(f"{sched_standin.api_base}draft/add", params={"access_token": token}, json=news,
                         timeout=5).json()
    assert made["media_id"] in sched_standin.drafts()
    incomplete = requests.post(f"{sched_standin.api_base}draft/add", params={"access_token": token},
                               json={"articles": [{"title": "讲座"}]}, timeout=5).json()
    assert incomplete["errcode"] == 47001
