"""`python -m bot questions ...`: the organizers' commands for question banks."""
from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import click

from questions.importers import read_bank
from questions.model import BankReport
from questions.report import report_lines, type_counts_line
from questions.template import write_bank_xlsx, write_template

from bot.quiz.banks import fit_warnings, import_bank, list_banks, load_questions

logger = logging.getLogger(__name__)


def _state():
    return click.get_current_context().obj


def _check(file: str, default_points: int = 10) -> BankReport:
    """Read a file and print its report; the default points do not change what is reported."""
    report = read_bank(file, default_points=default_points)
    for line in report_lines(report):
        click.echo(line)
    return report


@click.group("questions")
def questions() -> None:
    """题库：生成模板、检查、导入、列出、导出。"""


@questions.command("template")
@click.argument("out", type=click.Path(dir_okay=False))
def template(out: str) -> None:
    """生成空白题库模板（Excel）。"""
    write_template(out)
    click.echo(f"已生成模板：{out}（「题目」表有每种题型的示例，「说明」表是填写说明）")


@questions.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def check(file: str) -> None:
    """检查题库文件并列出问题，不改动任何数据（不需要配置文件和数据库）。"""
    if not _check(file).ok:
        raise SystemExit(1)


@questions.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--bank", "bank_name", metavar="NAME", help="题库名称（默认取配置 quiz.bank）")
def import_(file: str, bank_name: str | None) -> None:
    """检查并导入题库文件；有错误时不导入。"""
    state = _state()
    active = state.config.quiz.bank
    name = bank_name or active
    report = _check(file, state.config.quiz.default_points)
    if not report.ok:
        click.echo(f"未导入：请先改正以上 {len(report.errors)} 个错误。")
        raise SystemExit(1)
    with state.db.session() as session:
        result = import_bank(session=session, name=name, report=report, source=Path(file).name,
                             default_points=state.config.quiz.default_points)
    click.echo(f"已导入题库「{result.bank}」第 {result.version} 版，{type_counts_line(result.total, result.by_type)}")
    if result.retired:
        click.echo(f"上一版的 {result.retired} 道题已停用；正在进行的答题仍使用开始时抽到的题目。")
    if name == active:
        click.echo("这是配置 quiz.bank 指定的题库，新开始的答题将从中抽题。")
        for warning in fit_warnings(state.config.quiz, report.questions):
            click.echo(f"注意：{warning}")
    else:
        click.echo(f"注意：答题使用的是题库「{active}」（配置 quiz.bank），不是「{name}」。")


@questions.command("list")
def list_() -> None:
    """列出题库及题目数量。"""
    state = _state()
    active = state.config.quiz.bank
    with state.db.reader() as session:
        banks = list_banks(session=session)
    if not banks:
        click.echo("还没有题库。用 python -m bot questions import 文件 导入。")
    for bank in banks:
        mark = "（答题使用）" if bank.name == active else ""
        when = bank.imported_at.replace(tzinfo=dt.timezone.utc).astimezone(state.config.activity.tz)
        click.echo(f"{bank.name}{mark}  第 {bank.version} 版  {when:%Y-%m-%d %H:%M} 导入自 {bank.source}")
        click.echo(f"    {type_counts_line(bank.total, bank.by_type)}")
    if all(bank.name != active for bank in banks):
        click.echo(f"注意：配置 quiz.bank 指定的题库「{active}」还不存在，请先导入。")
        return
    with state.db.reader() as session:
        in_use = load_questions(session=session, bank_name=active)
    for warning in fit_warnings(state.config.quiz, in_use):
        click.echo(f"注意：{warning}")


@questions.command("export")
@click.argument("bank_name", metavar="BANK")
@click.argument("out", type=click.Path(dir_okay=False))
def export(bank_name: str, out: str) -> None:
    """把题库导出为模板格式的 Excel 文件（可修改后重新导入）。"""
    with _state().db.reader() as session:
        found = load_questions(session=session, bank_name=bank_name)
    if not found:
        click.echo(f"题库「{bank_name}」不存在或没有题目；用 python -m bot questions list 查看已有题库。")
        raise SystemExit(1)
    write_bank_xlsx(out, found)
    click.echo(f"已导出题库「{bank_name}」{len(found)} 题到 {out}")
