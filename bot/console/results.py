"""Results: the leaderboard, the winners draw with its workbook, and the results workbook."""
from __future__ import annotations

import datetime as dt
import io
import itertools
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for

from exports.fairplay import draw_exclusions
from exports.final import CONSOLE, final_draws, in_force, notices_of, record_final, winners_of
from exports.notify import CHANNEL_NAMES, notify_winners
from exports.queries import draw_candidates, stream_players
from exports.settings import ExportSettings, export_settings
from exports.winners import (DEFAULT_TIER, LOTTERY, RULES, TOP, Draw, RuleError, Tier, check_tiers, new_seed,
                             not_final_warning, parse_tiers, select_winners)
from exports.workbook import ExportError, write_workbook
from questions.render import format_duration

from bot.config import ConfigError
from bot.masking import mask_name, mask_phone, short_openid

logger = logging.getLogger(__name__)

bp = Blueprint("results", __name__, url_prefix="/results")

LEADERBOARD_SIZE = 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class DrawForm:
    """The draw options as staff typed them."""

    rule: str
    tiers: str
    seed: str
    require_contact: bool


def _runtime():
    return current_app.extensions["bot"]


def tiers_text(tiers: tuple[Tier, ...]) -> str:
    """Write tiers the way the form (and --tiers) reads them: 一等奖:5,二等奖:10."""
    return ",".join(f"{t.name}:{t.count}" for t in tiers)


FIELD = "奖项和人数"  # the form field's label, named in its error messages


def parse_form_tiers(text: str) -> tuple[Tier, ...]:
    """Read the tiers field: a bare number is one prize of that many places."""
    text = text.strip()
    if text.isdigit():
        if int(text) <= 0:
            raise RuleError("获奖人数应为正整数")
        return check_tiers([Tier(DEFAULT_TIER, int(text))], FIELD)
    return parse_tiers(text, FIELD)


def _settings() -> tuple[ExportSettings, str]:
    try:
        return export_settings(_runtime().config), ""
    except ConfigError as exc:
        return ExportSettings(), str(exc)


def _form(settings: ExportSettings) -> DrawForm:
    data = request.form
    return DrawForm(rule=data.get("rule", settings.rule), tiers=data.get("tiers", "").strip(),
                    seed=data.get("seed", "").strip()[:64], require_contact=data.get("require_contact") == "on")


def _draw(form: DrawForm, settings: ExportSettings) -> Draw:
    runtime = _runtime()
    config = runtime.config
    if form.rule not in RULES:
        raise RuleError("规则应为 按成绩排名（top）或 合格者抽奖（lottery）")
    tiers = parse_form_tiers(form.tiers) if form.tiers else settings.tiers
    with runtime.db.reader() as session:
        exclude = draw_exclusions(session, config, settings.exclude_openids)
        return select_winners(draw_candidates(session, pass_score=config.quiz.pass_score), rule=form.rule,
                              tiers=tiers, seed=form.seed, pass_score=config.quiz.pass_score, exclude=exclude,
                              require_contact=form.require_contact)


def _leaderboard():
    runtime = _runtime()
    tz = runtime.config.activity.tz
    with runtime.db.reader() as session:
        players = list(itertools.islice(stream_players(session, exclude=frozenset(runtime.config.quiz.testers)),
                                        LEADERBOARD_SIZE))
    return [{"rank": i, "openid": short_openid(p.openid), "name": mask_name(p.name), "phone": mask_phone(p.phone),
             "score": p.score, "max_score": p.max_score, "correct": f"{p.correct_count}/{p.total_questions}",
             "duration": format_duration(p.duration_seconds),
             "finished": p.finished_at.replace(tzinfo=dt.timezone.utc).astimezone(tz) if p.finished_at else None}
            for i, p in enumerate(players, 1)]


def _finals():
    """The final draws, newest first, each with its winners and how each was told."""
    runtime = _runtime()
    with runtime.db.reader() as session:
        return [(row, winners_of(session, row.id), notices_of(session, row.id)) for row in final_draws(session)]


def _page(form: DrawForm, settings_error: str, *, draw: Draw | None = None, error: str = "", status: int = 200):
    runtime = _runtime()
    early = not_final_warning(runtime.config.quiz.closes_at, runtime.clock()) if draw is not None else None
    return render_template("admin/results.html", leaderboard=_leaderboard(), form=form, draw=draw, error=error,
                           finals=_finals(), notice_channels=CHANNEL_NAMES,
                           settings_error=settings_error, pass_score=runtime.config.quiz.pass_score, early=early,
                           mask_name=mask_name, mask_phone=mask_phone, format_duration=format_duration,
                           LOTTERY=LOTTERY, TOP=TOP), status


@bp.get("/")
def index():
    """Show the leaderboard and the draw form."""
    settings, settings_error = _settings()
    form = DrawForm(rule=settings.rule, tiers=tiers_text(settings.tiers), seed="",
                    require_contact=settings.require_contact)
    return _page(form, settings_error)


@bp.post("/draw")
def draw():
    """Draw the winners and show them, masked; the download re-runs the same draw."""
    settings, settings_error = _settings()
    form = _form(settings)
    if form.rule == LOTTERY and not form.seed:
        form = DrawForm(rule=form.rule, tiers=form.tiers, seed=new_seed(), require_contact=form.require_contact)
    try:
        result = _draw(form, settings)
    except RuleError as exc:
        return _page(form, settings_error, error=str(exc), status=400)
    logger.info("staff drew winners: rule %s, %d places, %d winners", result.rule, result.places,
                len(result.winners))
    return _page(form, settings_error, draw=result)


def _workbook(draw: Draw | None, stem: str):
    """Write the workbook in a private temp folder, read it into memory, and send it."""
    runtime = _runtime()
    with tempfile.TemporaryDirectory(prefix="ipweek-export-") as folder:
        path = Path(folder) / "export.xlsx"
        with runtime.db.reader() as session:
            write_workbook(path=path, session=session, config=runtime.config, draw=draw)
        data = path.read_bytes()
    today = runtime.clock().replace(tzinfo=dt.timezone.utc).astimezone(runtime.config.activity.tz)
    return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True,
                     download_name=f"{stem}-{today:%Y%m%d-%H%M}.xlsx", max_age=0)


@bp.post("/winners.xlsx")
def winners_workbook():
    """Download the staff workbook of a draw (full names and phone numbers)."""
    settings, settings_error = _settings()
    form = _form(settings)
    if form.rule == LOTTERY and not form.seed:
        return _page(form, settings_error, error="请先抽奖：下载需要带上抽奖时的随机种子。", status=400)
    try:
        result = _draw(form, settings)
        response = _workbook(result, "中奖名单")
    except (RuleError, ExportError) as exc:
        return _page(form, settings_error, error=str(exc), status=400)
    logger.info("staff downloaded the winners workbook (%d winners)", len(result.winners))
    return response


@bp.post("/final")
def confirm_final():
    """Confirm a draw as final: the same draw again (same rule, tiers and seed), recorded with who confirmed it."""
    runtime = _runtime()
    settings, settings_error = _settings()
    form = _form(settings)
    by = request.form.get("by", "").strip()
    early = not_final_warning(runtime.config.quiz.closes_at, runtime.clock())
    if early:
        return _page(form, settings_error, error=f"{early.split('；')[0]}，截止后才能确认最终名单。", status=400)
    if not by:
        return _page(form, settings_error, error="请填写经办人后再确认最终名单。", status=400)
    if form.rule == LOTTERY and not form.seed:
        return _page(form, settings_error, error="请先抽奖：确认需要带上抽奖时的随机种子。", status=400)
    try:
        result = _draw(form, settings)
    except RuleError as exc:
        return _page(form, settings_error, error=str(exc), status=400)
    with runtime.db.session() as session:
        row = record_final(session, result, source=CONSOLE, by=by, now=runtime.clock())
        number = row.id
    logger.info("staff confirmed final draw %d (%d winners)", number, len(result.winners))
    earlier = "此前的最终名单仍保留在下方，以最新一份为准。" if number > 1 else ""
    flash(f"已确认为最终名单（第 {number} 号记录，中奖 {len(result.winners)} 人，经办人 {by}）。{earlier}", "success")
    return redirect(url_for("admin.results.index") + "#final")


@bp.post("/notify")
def notify():
    """Tell the winners of the final draw in force (those not told yet); every try is shown per winner."""
    runtime = _runtime()
    try:
        draw_id = int(request.form.get("draw_id", ""))
    except ValueError:
        return redirect(url_for("admin.results.index"))
    with runtime.db.reader() as session:
        current = in_force(session)
    if current is None or current.id != draw_id:
        flash("只能通知现行最终名单（最新一份）的中奖者，请刷新页面后再试。", "error")
        return redirect(url_for("admin.results.index") + "#final")
    report = notify_winners(runtime=runtime, draw_id=draw_id)
    parts = [f"已通知 {report.told} 人"]
    parts += [f"{CHANNEL_NAMES[channel]} {n} 人" for channel, n in sorted(report.by_channel.items())]
    if report.already:
        parts.append(f"{report.already} 人此前已通知，未重发")
    if report.failed:
        codes = "、".join(sorted({str(code) for _, code, _ in report.failed}))
        parts.append(f"{len(report.failed)} 次失败（微信错误码 {codes}，见下表）")
    flash("；".join(parts) + "。", "warning" if report.failed else "success")
    return redirect(url_for("admin.results.index") + "#final")


@bp.get("/results.xlsx")
def results_workbook():
    """Download the results workbook: players, questions, pushes and the overview."""
    logger.info("staff downloaded the results workbook")
    return _workbook(None, "活动结果")
