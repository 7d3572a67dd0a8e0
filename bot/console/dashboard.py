"""The console's front page: the week's figures, today's activity, the next push and two charts."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, render_template

from scheduler.plan import KIND_LABELS, audience_label, build_plan
from scheduler.pushlog import log_rows

from bot.config import ConfigError
from bot.dates import WEEKDAYS
from bot.console.charts import bar_chart
from bot.console.stats import figures, score_bars

bp = Blueprint("dashboard", __name__)

DONE = ("sent", "delivered", "failed", "missed")


@bp.get("/")
def index():
    """Show the dashboard."""
    runtime = current_app.extensions["bot"]
    config = runtime.config
    now = runtime.clock()
    plan_error = ""
    next_push = None
    with runtime.db.reader() as session:
        data = figures(session=session, config=config, now=now)
        try:
            plan = build_plan(config)
        except ConfigError as exc:
            plan, plan_error = [], str(exc)
        rows = log_rows(session)
    for push in plan:
        row = rows.get(push.key)
        if push.at_utc >= now and (row is None or row.status not in DONE):
            next_push = push
            break
    score_chart = bar_chart(score_bars(data.scores, max_score=data.max_score), title="最好成绩分布（人数）")
    day_chart = bar_chart([(f"{d:%m-%d}", n) for d, n, _ in data.by_day], title="活动周每天答题次数", unit="次")
    return render_template("admin/dashboard.html", data=data, next_push=next_push, plan_error=plan_error,
                           kind_labels=KIND_LABELS, audience_label=audience_label, weekdays=WEEKDAYS,
                           score_chart=score_chart, day_chart=day_chart, config=config,
                           local_now=now.replace(tzinfo=dt.timezone.utc).astimezone(config.activity.tz))
