"""The staff workbook: every sheet written in openpyxl's write-only mode, saved atomically."""
from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import Config
from bot.masking import mask_name, mask_phone
from bot.storage.models import utcnow
from scheduler.timing import STATUS_LABELS

from exports.channels import ChannelFigure, channel_figures
from exports.fairplay import review
from exports.units import district_figures, organisation_award, unit_figures
from bot.quiz.details import LABELS as DETAIL_LABELS, detail_settings
from bot.storage.models import Registration
from exports.final import in_force, notices_of, winners_of
from exports.notify import CHANNEL_NAMES
from exports.queries import Overview, PlayerResult, QuestionStat, overview, push_rows, question_stats, stream_players
from exports.winners import LOTTERY, Draw, Winner

logger = logging.getLogger(__name__)

WINNERS = "中奖名单"
PUBLIC = "公示名单"
RULES_SHEET = "抽奖说明"
PLAYERS = "参与者成绩"
QUESTIONS = "题目统计"
PUSHES = "推送记录"
OVERVIEW = "活动概况"
REVIEW = "异常核查"
NOTICES = "通知记录"  # only when a final draw exists
CHANNELS = "渠道统计"
UNITS = "单位与区县"
DRAW_SHEETS = (WINNERS, PUBLIC, RULES_SHEET)
RESULT_SHEETS = (PLAYERS, REVIEW, QUESTIONS, PUSHES, OVERVIEW)

DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
DURATION_FORMAT = "[h]:mm:ss"
PERCENT_FORMAT = "0.0%"
DECIMAL_FORMAT = "0.0"
MAX_WIDTH = 60
MAX_CELL_TEXT = 32_767  # Excel's limit; longer text makes Excel offer to repair the file

STATUS_NAMES = {"finished": "完成", "expired": "超时自动交卷", "abandoned": "主动交卷", "closed": "截止时自动交卷"}
KIND_NAMES = {"video": "视频", "article": "图文", "text": "文字"}

HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


class ExportError(ValueError):
    """A problem with the output a person can fix; str() is one Chinese line."""


@dataclass(frozen=True)
class Column:
    """A sheet column: header, value kind (text number datetime duration percent decimal), width."""

    header: str
    kind: str = "text"
    width: float | None = None


@dataclass(frozen=True)
class WorkbookResult:
    """What was written."""

    path: Path
    sheets: tuple[str, ...]
    players: int
    questions: int


def check_target(out: str) -> Path:
    """Return the output path, or raise ExportError if it cannot be an .xlsx file we may write."""
    path = Path(out)
    if path.suffix.lower() != ".xlsx":
        raise ExportError(f"{out}: 输出文件名应以 .xlsx 结尾，如 中奖名单.xlsx")
    if path.is_dir():
        raise ExportError(f"{out}: 这是一个文件夹，请给出文件名，如 {path / '中奖名单.xlsx'}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ExportError(f"{out}: 文件夹 {parent} 不存在，请先创建或换一个位置")
    return path


def write_workbook(*, path: Path, session: Session, config: Config, draw: Draw | None = None,
                   exported_at: dt.datetime | None = None) -> WorkbookResult:
    """Write the results workbook (with the draw's three sheets first when given) to `path` atomically."""
    exported_at = exported_at or utcnow()
    tz = config.activity.tz
    exclude = frozenset(config.quiz.testers)
    workbook = Workbook(write_only=True)
    if draw is not None:
        _winners_sheet(workbook, draw, tz, session, config)
        _public_sheet(workbook, draw, tz)
        _rules_sheet(workbook, draw, config, tz, exported_at)
    players = _players_sheet(workbook, stream_players(session, exclude=exclude), config.quiz.pass_score, tz)
    _review_sheet(workbook, review(session, config), tz)
    current = in_force(session)
    if current is not None:
        _notices_sheet(workbook, current, winners_of(session, current.id), notices_of(session, current.id), tz)
    stats = question_stats(session, exclude=exclude)
    _questions_sheet(workbook, stats)
    pushes = push_rows(session)
    _pushes_sheet(workbook, pushes, tz)
    _overview_sheet(workbook, overview(session, config=config, exclude=exclude), config, pushes, tz, exported_at)
    _channels_sheet(workbook, channel_figures(session, testers=exclude, pass_score=config.quiz.pass_score), tz)
    _units_sheet(workbook, session, config)
    sheets = tuple(ws.title for ws in workbook.worksheets)
    _save(workbook, path)
    logger.info("export written: %s (%d players, %d questions)", path, players, len(stats))
    return WorkbookResult(path=path, sheets=sheets, players=players, questions=len(stats))


def _save(workbook: Workbook, path: Path) -> None:
    """Save beside the target and rename, so a failure never leaves a half-written file."""
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".xlsx", dir=path.parent if str(path.parent) else ".")
    os.close(fd)
    try:
        workbook.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def local_time(value: dt.datetime | None, tz: ZoneInfo) -> dt.datetime | None:
    """Turn a stored naive UTC time into naive local time for Excel."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC).astimezone(tz).replace(tzinfo=None)


def display_width(value: Any) -> int:
    """Estimate how many character cells a value takes in Excel (CJK characters count two)."""
    if value is None:
        return 0
    if isinstance(value, dt.datetime):
        return 19
    if isinstance(value, dt.timedelta):
        return 8
    if isinstance(value, float):
        return 6
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(value))


class _Sheet:
    """A write-only sheet with a styled, frozen header row, fitted widths and an optional filter."""

    def __init__(self, workbook: Workbook, title: str, columns: list[Column], *, rows: list[list] | None = None,
                 filtered: bool = True):
        self.ws = workbook.create_sheet(title)
        self.columns = columns
        self.filtered = filtered
        self.count = 0
        for i, col in enumerate(columns, 1):
            width = col.width
            if width is None:
                width = max([display_width(col.header) + 4] + [display_width(r[i - 1]) + 2 for r in rows or []])
            self.ws.column_dimensions[get_column_letter(i)].width = min(width, MAX_WIDTH)
        self.ws.freeze_panes = "A2"
        self.ws.append([self._header(col.header) for col in columns])

    def _header(self, text: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(self.ws, text)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        return cell

    def append(self, values: Iterable[Any], kinds: Iterable[str] | None = None) -> None:
        kinds = kinds or (col.kind for col in self.columns)
        self.ws.append([self._cell(kind, v) for kind, v in zip(kinds, values)])
        self.count += 1

    def extend(self, rows: Iterable[Iterable[Any]]) -> int:
        for row in rows:
            self.append(row)
        return self.count

    def close(self) -> None:
        if self.filtered:
            self.ws.auto_filter.ref = f"A1:{get_column_letter(len(self.columns))}{self.count + 1}"

    def _cell(self, kind: str, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            return self.text(value)
        fmt = {"datetime": DATE_FORMAT, "duration": DURATION_FORMAT, "percent": PERCENT_FORMAT,
               "decimal": DECIMAL_FORMAT}.get(kind)
        if fmt is None:
            return value
        cell = WriteOnlyCell(self.ws, value)
        cell.number_format = fmt
        return cell

    def text(self, value: str) -> Any:
        """Return text safe for a cell: no control characters, never read as a formula."""
        value = ILLEGAL_CHARACTERS_RE.sub("", value)[:MAX_CELL_TEXT]
        if not value.startswith("="):
            return value
        cell = WriteOnlyCell(self.ws, value)
        cell.data_type = "s"
        return cell


def _duration(seconds: int | None) -> dt.timedelta | None:
    return None if seconds is None else dt.timedelta(seconds=seconds)


WINNER_COLUMNS = [Column("奖项"), Column("名次", "number"), Column("姓名"), Column("手机号"), Column("得分", "number"),
                  Column("用时", "duration"), Column("交卷时间", "datetime"), Column("openid")]


def _winner_row(w: Winner, tz: ZoneInfo, *, masked: bool) -> list[Any]:
    p = w.player
    name, phone = (mask_name(p.name), mask_phone(p.phone)) if masked else (p.name, p.phone)
    row = [w.tier, w.rank, name, phone, p.score, _duration(p.duration_seconds), local_time(p.finished_at, tz)]
    return row if masked else row + [p.openid]


def _winners_sheet(workbook: Workbook, draw: Draw, tz: ZoneInfo, session: Session, config: Config) -> None:
    """The winners in full, for staff: with the registration details the config asks for (to mail or
    notarise the prizes), after the openid."""
    fields = detail_settings(config).fields
    stored = {}
    if fields and draw.winners:
        stored = {r.openid: r for r in session.scalars(select(Registration).where(
            Registration.openid.in_([w.player.openid for w in draw.winners])))}
    columns = WINNER_COLUMNS + [Column(DETAIL_LABELS[f], width=24) for f in fields]
    rows = [[*_winner_row(w, tz, masked=False),
             *[getattr(stored.get(w.player.openid), f, None) or "" for f in fields]] for w in draw.winners]
    sheet = _Sheet(workbook, WINNERS, columns, rows=rows)
    sheet.extend(rows)
    sheet.close()


def _public_sheet(workbook: Workbook, draw: Draw, tz: ZoneInfo) -> None:
    rows = [_winner_row(w, tz, masked=True) for w in draw.winners]
    sheet = _Sheet(workbook, PUBLIC, WINNER_COLUMNS[:-1], rows=rows)
    sheet.extend(rows)
    sheet.close()


def rule_lines(draw: Draw, config: Config, tz: ZoneInfo, exported_at: dt.datetime) -> list[tuple[str, Any]]:
    """Return the 抽奖说明 rows: the rule, seed, counts, digest and how to re-run the draw."""
    tiers = "，".join(f"{t.name} {t.count} 名" for t in draw.tiers)
    order = ("得分从高到低；得分相同，用时少者在前；用时也相同，交卷早者在前；仍相同，答题记录编号小者在前"
             "（与公众号内“排名”一致）")
    if draw.rule == LOTTERY:
        rule = f"合格者抽奖（lottery）：在合格名单中按随机种子抽取 {draw.places} 名，先抽中者先得高等奖"
    else:
        rule = f"成绩排名（top）：合格名单按排名顺序取前 {draw.places} 名。排名顺序：{order}"
    tier_order = "；".join(_tier_span(draw))
    lines: list[tuple[str, Any]] = [
        ("活动", config.activity.name),
        ("导出时间", local_time(exported_at, tz)),
        ("时区", config.activity.timezone),
        ("规则", rule),
        ("随机种子", draw.seed if draw.rule == LOTTERY else "（排名规则不使用随机种子）"),
        ("合格分数线", f"最好成绩 ≥ {draw.pass_score} 分"),
        ("奖项设置", tiers),
        ("名次与奖项", tier_order or "（无人中奖）"),
        ("排除名单（测试账号、export.exclude_openids 和待审核的异常玩家）", "、".join(draw.excluded) or "（无）"),
        ("达到合格分人数（排除后）", draw.considered),
        ("要求留有姓名和手机号", "是" if draw.require_contact else "否"),
        ("未留姓名和手机号而跳过", draw.skipped_no_contact),
        ("同一手机号重复而跳过（每人限领一份）", draw.skipped_duplicate_phone),
        ("合格名单人数", len(draw.eligible)),
        ("中奖人数", len(draw.winners)),
        ("合格名单摘要（SHA-256）", draw.digest),
        ("合格名单", "“参与者成绩”表中“是否合格”为“是”的玩家，去掉排除名单"
                  + ("和未留姓名、手机号的玩家" if draw.require_contact else "")
                  + "；同一手机号只保留排名最前的一人（每人限领一份）"),
        ("摘要算法", ("合格名单按 openid 升序排列，每人一行“openid<TAB>得分<TAB>用时秒数”，UTF-8 编码，"
                  "每行以换行符结尾；对全部行计算 SHA-256，得到上面的摘要")),
        ("并列说明", f"得分和用时都相同的玩家：{order}"),
    ]
    if len(draw.winners) < draw.places:
        lines.append(("名额说明", f"合格名单只有 {len(draw.eligible)} 人，少于 {draw.places} 个名额，其余名额空缺"))
    if draw.rule == LOTTERY:
        tier_option = ",".join(f"{t.name}:{t.count}" for t in draw.tiers)
        lines.append(("复核方法",
                      (f"Python 3：random.Random(\"{draw.seed}:{draw.digest}\").sample(按 openid 升序的合格名单, "
                       f"{min(draw.places, len(draw.eligible))})，结果依次为第 1、2、3… 名；"
                       f"或在同一数据上、用同样的排除名单运行：python -m bot export winners 输出.xlsx --rule lottery "
                       f"--seed {draw.seed} --tiers \"{tier_option}\"，中奖名单相同")))
    else:
        lines.append(("复核方法", "将“参与者成绩”表按上面的排名顺序排列（即表中名次），依次取合格名单中的玩家"))
    return lines


def _tier_span(draw: Draw) -> list[str]:
    spans, first = [], 1
    for tier in draw.tiers:
        last = first + tier.count - 1
        spans.append(f"第 {first} 名：{tier.name}" if last == first else f"第 {first}–{last} 名：{tier.name}")
        first += tier.count
    return spans


def _rules_sheet(workbook: Workbook, draw: Draw, config: Config, tz: ZoneInfo, exported_at: dt.datetime) -> None:
    lines = rule_lines(draw, config, tz, exported_at)
    sheet = _Sheet(workbook, RULES_SHEET, [Column("项目", width=38), Column("内容", width=MAX_WIDTH)], filtered=False)
    for key, value in lines:
        sheet.append([key, value], ["text", "datetime" if isinstance(value, dt.datetime) else "number"])
    sheet.close()


PLAYER_COLUMNS = [Column("名次", "number", 8), Column("姓名", width=10), Column("手机号", width=14),
                  Column("得分", "number", 8), Column("满分", "number", 8), Column("答对题数", "number", 12),
                  Column("题数", "number", 8), Column("用时", "duration", 10), Column("交卷时间", "datetime", 21),
                  Column("交卷方式", width=16), Column("是否合格", width=12), Column("openid", width=34)]


def _players_sheet(workbook: Workbook, players: Iterable[PlayerResult], pass_score: int, tz: ZoneInfo) -> int:
    sheet = _Sheet(workbook, PLAYERS, PLAYER_COLUMNS)
    for rank, p in enumerate(players, 1):
        sheet.append([rank, p.name, p.phone, p.score, p.max_score, p.correct_count, p.total_questions,
                      _duration(p.duration_seconds), local_time(p.finished_at, tz),
                      STATUS_NAMES.get(p.status, p.status), "是" if p.score >= pass_score else "否", p.openid])
    sheet.close()
    return sheet.count


REVIEW_COLUMNS = [Column("openid", width=34), Column("姓名", width=10), Column("手机号", width=14),
                  Column("原因", width=20), Column("依据", width=60), Column("审核结果", width=12),
                  Column("经办人", width=10), Column("放行时间", "datetime", 21), Column("放行说明", width=40)]


def _review_sheet(workbook: Workbook, flagged, tz: ZoneInfo) -> None:
    """Players flagged by the fair-play rules, one row per reason, with the staff clearance if any."""
    sheet = _Sheet(workbook, REVIEW, REVIEW_COLUMNS)
    for player in flagged:
        cleared = player.clearance
        for flag in player.flags:
            sheet.append([player.openid, player.name, player.phone, flag.reason, flag.evidence,
                          "已放行" if cleared else "待审核（不参加抽奖）", cleared.cleared_by if cleared else "",
                          local_time(cleared.cleared_at, tz) if cleared else None, cleared.note if cleared else ""])
    sheet.close()


NOTICE_COLUMNS = [Column("最终名单", "number", 10), Column("奖项", width=12), Column("名次", "number", 8),
                  Column("姓名", width=10), Column("手机号", width=14), Column("openid", width=34),
                  Column("通知方式", width=14), Column("结果", width=10), Column("微信错误码", "number", 12),
                  Column("说明", width=30), Column("时间", "datetime", 21)]


def _notices_sheet(workbook: Workbook, draw, winners, notices, tz: ZoneInfo) -> None:
    """Every try at telling each winner of the final draw in force; a winner not yet told has one row saying so."""
    sheet = _Sheet(workbook, NOTICES, NOTICE_COLUMNS)
    for w in winners:
        head = [draw.id, w.tier, w.rank, w.name, w.phone, w.openid]
        tries = notices.get(w.id, [])
        if not tries:
            sheet.append([*head, "", "未通知", None, "", None])
        for n in tries:
            sheet.append([*head, CHANNEL_NAMES.get(n.channel, n.channel), "已发出" if n.errcode == 0 else "失败",
                          n.errcode, n.errmsg, local_time(n.at, tz)])
    sheet.close()


QUESTION_COLUMNS = [Column("题号", "number"), Column("题型"), Column("题目"), Column("抽中次数", "number"),
                    Column("作答次数", "number"), Column("答对次数", "number"), Column("正确率", "percent"),
                    Column("最多的错误答案"), Column("该错误答案次数", "number")]


def wrong_answer_label(stat: QuestionStat) -> str:
    """Show the most common wrong answer, with the option text for a single original letter."""
    value = stat.top_wrong
    if stat.qtype in ("单选", "多选") and len(value) == 1 and value.isalpha():
        index = ord(value.upper()) - ord("A")
        if 0 <= index < len(stat.options):
            return f"{value}. {stat.options[index]}"
    return value


def _questions_sheet(workbook: Workbook, stats: list[QuestionStat]) -> None:
    rows = [[s.question_id, s.qtype, s.stem, s.drawn, s.answered, s.correct, s.correct_rate,
             wrong_answer_label(s), s.top_wrong_count or None] for s in stats]
    sheet = _Sheet(workbook, QUESTIONS, QUESTION_COLUMNS, rows=rows)
    sheet.extend(rows)
    sheet.close()


PUSH_COLUMNS = [Column("计划时间", "datetime"), Column("发送时间", "datetime"), Column("标题"), Column("类型"),
                Column("状态"), Column("目标人数", "number"), Column("过滤人数", "number"), Column("送达人数", "number"),
                Column("失败人数", "number"), Column("错误信息")]


def _pushes_sheet(workbook: Workbook, pushes: list, tz: ZoneInfo) -> None:
    rows = [[local_time(p.planned_at, tz), local_time(p.sent_at, tz), p.title, KIND_NAMES.get(p.kind, p.kind),
             STATUS_LABELS.get(p.status, p.status), p.total_count, p.filter_count, p.sent_count, p.error_count,
             p.error or None] for p in pushes]
    sheet = _Sheet(workbook, PUSHES, PUSH_COLUMNS, rows=rows)
    sheet.extend(rows)
    sheet.close()


def overview_lines(o: Overview, config: Config, pushes: list, tz: ZoneInfo,
                   exported_at: dt.datetime) -> list[tuple[str, Any, str]]:
    """Return the 活动概况 figures as (label, value, kind) rows."""
    fmt = "%Y-%m-%d %H:%M"
    window = (f"{local_time(o.window_start, tz):{fmt}} 至 {local_time(o.window_end, tz):{fmt}}"
              f"（{config.activity.timezone}）")
    sent = [p for p in pushes if p.status in ("sent", "delivered")]
    return [
        ("活动名称", config.activity.name, "text"),
        ("活动时间", window, "text"),
        ("导出时间", local_time(exported_at, tz), "datetime"),
        ("活动期间新增关注", o.followers_gained, "number"),
        ("活动期间取消关注", o.followers_lost, "number"),
        ("活动期间净增关注", o.followers_gained - o.followers_lost, "number"),
        ("参与答题人数", o.players, "number"),
        ("答题次数", o.attempts, "number"),
        ("完成次数（答完全部题目）", o.completions, "number"),
        ("有成绩人数", o.ranked_players, "number"),
        ("平均最好成绩", round(o.average_best_score, 1) if o.average_best_score is not None else None, "decimal"),
        (f"达到合格分（{config.quiz.pass_score}分）人数", o.passed, "number"),
        ("登记领奖信息人数", o.contacts, "number"),
        ("已发送推送条数", len(sent), "number"),
        ("推送送达人次", sum(p.sent_count or 0 for p in sent), "number"),
    ]


def _overview_sheet(workbook: Workbook, o: Overview, config: Config, pushes: list, tz: ZoneInfo,
                    exported_at: dt.datetime) -> None:
    lines = overview_lines(o, config, pushes, tz, exported_at)
    sheet = _Sheet(workbook, OVERVIEW, [Column("项目", width=30), Column("数值", width=44)], filtered=False)
    for label, value, kind in lines:
        sheet.append([label, value], ["text", kind])
    sheet.ws.append([])
    header_row = len(lines) + 3
    sheet.ws.append([sheet._header("最好成绩"), sheet._header("人数")])
    for label, count in o.distribution:
        sheet.ws.append([label, count])
    if o.distribution:
        chart = BarChart()
        chart.type = "col"
        chart.title = "最好成绩分布"
        chart.x_axis.title = "最好成绩"
        chart.y_axis.title = "人数"
        chart.x_axis.delete = False
        chart.y_axis.delete = False
        chart.legend = None
        last = header_row + len(o.distribution)
        chart.add_data(Reference(sheet.ws, min_col=2, min_row=header_row, max_row=last), titles_from_data=True)
        chart.set_categories(Reference(sheet.ws, min_col=1, min_row=header_row + 1, max_row=last))
        chart.width, chart.height = 18, 9
        sheet.ws.add_chart(chart, "D2")
    else:
        sheet.ws.append(["（暂无成绩）"])


UNIT_COLUMNS = [Column("分组", width=10), Column("名称", width=24), Column("参与人数", "number", 12),
                Column("完成答题次数", "number", 14), Column("合格人数", "number", 12),
                Column("平均最好成绩", "decimal", 14), Column("单位人数", "number", 12), Column("组织奖名次", "number", 12)]


def _units_sheet(workbook: Workbook, session: Session, config: Config) -> None:
    """Per unit and per district, as the console's 单位与区县 page; the organisation award's places beside the units."""
    units = unit_figures(session, config)
    places = {u.name: i for i, u in enumerate(organisation_award(units, config), 1)}
    sheet = _Sheet(workbook, UNITS, UNIT_COLUMNS)
    sheet.extend(["工作单位", u.name, u.players, u.finished, u.qualified, u.average_best, u.headcount, places.get(u.name)]
                 for u in units)
    sheet.extend(["所在区县", d.name, d.players, d.finished, d.qualified, d.average_best, None, None]
                 for d in district_figures(session, config))
    sheet.close()


CHANNEL_COLUMNS = [Column("渠道", width=24), Column("场景值", width=16), Column("带来关注人数", "number", 14),
                   Column("扫码次数", "number", 12), Column("参与答题人数", "number", 14),
                   Column("达到合格分人数", "number", 16), Column("创建时间", "datetime", 21)]


def _channels_sheet(workbook: Workbook, figures: list[ChannelFigure], tz: ZoneInfo) -> None:
    """Per channel code: followers it brought first, every scan, and of those followers the players and qualified."""
    sheet = _Sheet(workbook, CHANNELS, CHANNEL_COLUMNS)
    sheet.extend([f.name, f.scene, f.followers, f.scans, f.players, f.qualified, local_time(f.created_at, tz)]
                 for f in figures)
    sheet.close()
    if not figures:
        sheet.ws.append(["（还没有渠道码）"])
