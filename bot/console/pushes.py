"""Pushes: the plan with statuses and delivery figures, preview to an openid, send now after confirming."""
from __future__ import annotations

import datetime as dt
import logging

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from scheduler.cli import status_line
from scheduler.lease import LEASE_NAME
from scheduler.plan import (KIND_LABELS, PlannedPush, audience_label, build_plan, plan_warnings, push_warnings,
                            scheduler_options)
from scheduler.pushlog import log_rows
from scheduler.sending import preview_push, send_push

from bot.config import Config, ConfigError
from bot.masking import short_openid
from bot.storage.models import Lease
from bot.console.simulator import OPENID

logger = logging.getLogger(__name__)

bp = Blueprint("pushes", __name__, url_prefix="/pushes")

SENT = ("sent", "delivered")


def _runtime():
    return current_app.extensions["bot"]


def _local(value: dt.datetime | None, config: Config) -> dt.datetime | None:
    return value.replace(tzinfo=dt.timezone.utc).astimezone(config.activity.tz) if value else None


def _find(plan: list[PlannedPush], key: str) -> PlannedPush:
    for push in plan:
        if push.key == key:
            return push
    abort(404)


def _load():
    runtime = _runtime()
    try:
        plan = build_plan(runtime.config)
    except ConfigError as exc:
        return [], {}, None, str(exc)
    with runtime.db.reader() as db:
        rows = log_rows(db)
        lease = db.get(Lease, LEASE_NAME)
    return plan, rows, lease, ""


@bp.get("/")
def index():
    """Show the push plan, each push's status and delivery figures, and the scheduler's state."""
    runtime = _runtime()
    config = runtime.config
    plan, rows, lease, error = _load()
    now = runtime.clock()
    grace = dt.timedelta(minutes=scheduler_options(config).grace_minutes) if not error else dt.timedelta(0)
    items = [{"push": p, "row": rows.get(p.key),
              "status": status_line(p, rows.get(p.key), now=now, grace=grace, tz=config.activity.tz)}
             for p in plan]
    orphans = [rows[key] for key in sorted(set(rows) - {p.key for p in plan})]
    return render_template("admin/pushes.html", items=items, orphans=orphans, error=error,
                           warnings=plan_warnings(config, plan) if plan else [], kind_labels=KIND_LABELS,
                           audience_label=audience_label, config=config,
                           scheduler_running=lease is not None and lease.expires_at > now,
                           lease_until=_local(lease.expires_at, config) if lease else None,
                           staff_openid=(config.wechat.staff_openids or ("",))[0])


@bp.post("/<key>/preview")
def preview(key: str):
    """Send a preview of one push to the openid given."""
    plan, _, _, _ = _load()
    push = _find(plan, key)
    openid = request.form.get("openid", "").strip()
    if not OPENID.match(openid):
        flash("请填写接收预览的微信 openid（字母、数字、- 和 _）。", "error")
        return redirect(url_for(".index"))
    result = preview_push(runtime=_runtime(), push=push, openid=openid)
    if result.ok:
        flash(f"已发送预览《{push.title}》到 {short_openid(openid)}，请在手机上查看。")
    else:
        flash(f"预览《{push.title}》发送失败：{result.error}", "error")
    return redirect(url_for(".index"))


@bp.route("/<key>/send", methods=["GET", "POST"])
def send(key: str):
    """Show what a send-now will do; the second POST with confirm=yes sends it."""
    runtime = _runtime()
    config = runtime.config
    plan, rows, _, _ = _load()
    push = _find(plan, key)
    row = rows.get(key)
    if request.method == "POST" and request.form.get("confirm") == "yes":
        logger.info("staff sends push %s now", key)
        result = send_push(runtime=runtime, push=push)
        if result.status == "skipped":
            flash(f"《{push.title}》已发送过（msg_id {result.msg_id}），不再重复发送。", "warning")
        elif result.status == "sent":
            note = "（微信表示此前已发出，未重复发送）" if result.already_sent else ""
            flash(f"已发送《{push.title}》：msg_id {result.msg_id}{note}")
        else:
            flash(f"发送《{push.title}》失败：{result.error}", "error")
        return redirect(url_for(".index"))
    return render_template("admin/push_confirm.html", push=push, row=row, already=row is not None and
                           row.status in SENT, warnings=push_warnings(config, plan, push, rows, now=_runtime().clock()),
                           kind_label=KIND_LABELS[push.kind], audience=audience_label(push.audience),
                           account="订阅号" if config.wechat.account_type == "subscription" else "服务号")
