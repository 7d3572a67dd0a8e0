"""`python -m bot export`: draw the winners and write the staff workbook."""
from __future__ import annotations

import getpass
import logging
from pathlib import Path

import click

from bot.config import ConfigError
from bot.masking import mask_name, mask_phone
from questions.render import format_duration

from exports.fairplay import draw_exclusions
from exports.final import CLI, count_final, record_final
from exports.queries import draw_candidates
from exports.settings import export_settings
from exports.winners import (DEFAULT_TIER, LOTTERY, RULES, Draw, RuleError, Tier, check_tiers, new_seed,
                             not_final_warning, parse_tiers, select_winners)
from exports.workbook import DRAW_SHEETS, ExportError, check_target, write_workbook

logger = logging.getLogger(__name__)


@click.group()
def export() -> None:
    """导出中奖名单和活动数据到 Excel。"""


@export.command(help="抽出获奖者并写出工作簿：中奖名单、公示名单、抽奖说明和全部成绩统计表。")
@click.argument("out", metavar="OUT.xlsx")
@click.option("--rule", help="top：按成绩排名；lottery：在达到合格分的玩家中抽奖（默认取 export.rule 或 top）")
@click.option("--count", type=int, help="获奖人数（只设一个奖项“获奖”；与 --tiers 二选一）")
@click.option("--tiers", help="奖项和人数，如 \"一等奖:5,二等奖:10,三等奖:20\"（默认取 export.tiers）")
@click.option("--seed", help="抽奖的随机种子；不填则随机生成并打印，复核时用同一种子")
@click.option("--exclude", "exclude_file", type=click.Path(dir_okay=False),
              help="排除名单文件：每行一个 openid（另加 export.exclude_openids、quiz.testers 和待审核的异常玩家）")
@click.option("--require-contact/--no-require-contact", default=None,
              help="只在留有姓名和手机号的玩家中评奖（默认取 export.require_contact 或 是）")
@click.option("--final", is_flag=True,
              help="确认为最终名单并记录（规则、种子、合格名单摘要、中奖者）；之后再确认会另记一份，不覆盖")
@click.pass_obj
def winners(state, out: str, rule: str | None, count: int | None, tiers: str | None, seed: str | None,
            exclude_file: str | None, require_contact: bool | None, final: bool) -> None:
    """Draw the winners and write the workbook: 中奖名单, 公示名单, 抽奖说明 and all result sheets."""
    try:
        path = check_target(out)
        settings = export_settings(state.config)
        early = not_final_warning(state.config.quiz.closes_at, state.runtime.clock())
        if final and early:
            raise RuleError(f"--final: {early.split('；')[0]}，截止后才能确认最终名单")
        rule = rule or settings.rule
        if rule not in RULES:
            raise RuleError(f"--rule: 应为 top（按成绩排名）或 lottery（合格者中抽奖），当前为 {rule!r}")
        chosen_tiers = _tiers(count, tiers, settings.tiers)
        extra = _read_exclude(exclude_file)
        if rule == LOTTERY and not seed:
            seed = new_seed()
        with state.db.reader() as session:
            exclude = draw_exclusions(session, state.config, settings.exclude_openids, extra)
            draw = select_winners(draw_candidates(session, pass_score=state.config.quiz.pass_score), rule=rule,
                                  tiers=chosen_tiers, seed=seed or "", pass_score=state.config.quiz.pass_score,
                                  exclude=exclude,
                                  require_contact=settings.require_contact if require_contact is None
                                  else require_contact)
            result = write_workbook(path=path, session=session, config=state.config, draw=draw)
    except (ConfigError, RuleError, ExportError) as exc:
        raise click.ClickException(str(exc)) from None
    if seed and rule != LOTTERY:
        click.echo("注意：排名规则（top）不使用随机种子，已忽略 --seed。")
    if early:
        click.echo(f"注意：{early}")
    _echo_draw(draw)
    click.echo(f"已写入 {result.path}（工作表：{'、'.join(result.sheets)}）")
    if final:
        with state.db.session() as session:
            before = count_final(session)
            row = record_final(session, draw, source=CLI, by=getpass.getuser(), now=state.runtime.clock())
        if before:
            click.echo(f"此前已有 {before} 份最终名单，均保留；以本次（第 {row.id} 号记录）为准。")
        click.echo(f"已记录为最终名单：第 {row.id} 号记录，中奖 {len(draw.winners)} 人；"
                   f"合格名单摘要 {row.eligible_digest[:16]}…，中奖名单摘要 {row.winners_digest[:16]}…")


@export.command(help="写出成绩工作簿（不抽奖，没有中奖名单、公示名单、抽奖说明三张表）。")
@click.argument("out", metavar="OUT.xlsx")
@click.pass_obj
def results(state, out: str) -> None:
    """Write the results workbook without a draw (no 中奖名单, 公示名单 or 抽奖说明 sheets)."""
    try:
        path = check_target(out)
        with state.db.reader() as session:
            result = write_workbook(path=path, session=session, config=state.config)
    except (ConfigError, ExportError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已写入 {result.path}（工作表：{'、'.join(result.sheets)}；"
               f"参与者 {result.players} 人，题目 {result.questions} 道；不含{'、'.join(DRAW_SHEETS)}）")


def _tiers(count: int | None, text: str | None, default: tuple[Tier, ...]) -> tuple[Tier, ...]:
    if count is not None and text:
        raise RuleError("--count 和 --tiers 只能用一个")
    if count is not None:
        if count <= 0:
            raise RuleError(f"--count: 获奖人数应为正整数，当前为 {count}")
        return check_tiers([Tier(DEFAULT_TIER, count)], "--count")
    return parse_tiers(text) if text else default


def _read_exclude(name: str | None) -> set[str]:
    if not name:
        return set()
    try:
        text = Path(name).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RuleError(f"--exclude: 找不到文件 {name}") from None
    except UnicodeDecodeError:
        raise RuleError(f"--exclude: {name} 不是 UTF-8 编码，请另存为 UTF-8") from None
    return {line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")}


def _echo_draw(draw: Draw) -> None:
    if draw.rule == LOTTERY:
        click.echo(f"规则：合格者抽奖（lottery），随机种子：{draw.seed}")
    else:
        click.echo("规则：成绩排名（top）")
    click.echo(f"合格名单 {len(draw.eligible)} 人，摘要（SHA-256）：{draw.digest}")
    if not draw.winners:
        click.echo("没有符合条件的中奖者。")
        return
    click.echo("奖项\t名次\t姓名\t手机号\t得分\t用时")
    for w in draw.winners:
        p = w.player
        click.echo(f"{w.tier}\t{w.rank}\t{mask_name(p.name) or '-'}\t{mask_phone(p.phone) or '-'}\t{p.score}\t"
                   f"{format_duration(p.duration_seconds)}")
    if len(draw.winners) < draw.places:
        click.echo(f"注意：合格名单只有 {len(draw.eligible)} 人，{draw.places - len(draw.winners)} 个名额空缺。")
