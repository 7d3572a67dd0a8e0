"""Question banks: upload and check a file, import it when clean, browse and search questions."""
from __future__ import annotations

import dataclasses
import io
import math
import tempfile

from pathlib import Path

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, session,
                   url_for)
from sqlalchemy import func, or_, select

from questions.importers import SUPPORTED, read_bank
from questions.model import TYPES
from questions.report import report_lines, type_counts_line
from questions.template import write_template

from bot.quiz.banks import fit_warnings, import_bank, list_banks
from bot.storage.models import Bank, QuestionRow
from bot.console.uploads import find_upload, save_upload, suffix_of, upload_dir

bp = Blueprint("banks", __name__, url_prefix="/banks")

PAGE_SIZE = 50
NAME_LIMIT = 64


def _runtime():
    return current_app.extensions["bot"]


def _bank_name(raw: str | None) -> str:
    return (raw or "").strip()[:NAME_LIMIT] or _runtime().config.quiz.bank


def _report(path, original: str):
    """Read an uploaded file and describe it under the name the organizer gave it."""
    report = read_bank(path, default_points=_runtime().config.quiz.default_points)
    shown = dataclasses.replace(report, source=original)
    lines = [line.replace(path.name, original) for line in report_lines(shown)]
    return report, lines


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@bp.get("/")
def index():
    """List the banks and offer the upload form."""
    runtime = _runtime()
    with runtime.db.reader() as db:
        banks = list_banks(session=db)
    return render_template("admin/banks.html", banks=banks, active=runtime.config.quiz.bank,
                           supported=SUPPORTED, type_counts_line=type_counts_line)


@bp.get("/template.xlsx")
def template():
    """Download the bank template (the same file as `python -m bot questions template`)."""
    with tempfile.TemporaryDirectory(prefix="ipweek-template-") as folder:
        path = Path(folder) / "template.xlsx"
        write_template(path)
        data = path.read_bytes()
    return send_file(io.BytesIO(data), as_attachment=True, download_name="题库模板.xlsx", max_age=0,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.post("/check")
def check():
    """Store an uploaded file, check it and show the same report as `questions check`."""
    upload = request.files.get("file")
    name = _bank_name(request.form.get("bank"))
    if upload is None or not upload.filename:
        flash("请选择要上传的题库文件。", "error")
        return redirect(url_for(".index"))
    suffix = suffix_of(upload.filename)
    if not suffix:
        flash(f"「{upload.filename}」不是支持的格式：请上传 {SUPPORTED}。", "error")
        return redirect(url_for(".index"))
    token = save_upload(upload_dir(current_app.instance_path), upload.read(), suffix)
    session.setdefault("uploads", {})[token] = upload.filename
    session.modified = True
    path = find_upload(upload_dir(current_app.instance_path), token)
    report, lines = _report(path, upload.filename)
    return render_template("admin/bank_report.html", report=report, lines=lines, token=token, bank=name,
                           filename=upload.filename, active=_runtime().config.quiz.bank)


@bp.post("/import")
def import_():
    """Import a checked upload into a bank, only when it has no errors."""
    runtime = _runtime()
    token = request.form.get("token", "")
    original = session.get("uploads", {}).get(token)
    path = find_upload(upload_dir(current_app.instance_path), token) if original else None
    if path is None:
        flash("找不到刚才上传的文件（可能已导入或已过期），请重新上传。", "error")
        return redirect(url_for(".index"))
    name = _bank_name(request.form.get("bank"))
    report, lines = _report(path, original)
    if not report.ok:
        flash(f"未导入：请先改正 {len(report.errors)} 个错误。", "error")
        return render_template("admin/bank_report.html", report=report, lines=lines, token=token, bank=name,
                               filename=original, active=runtime.config.quiz.bank), 422
    with runtime.db.session() as db:
        result = import_bank(session=db, name=name, report=report, source=original,
                             default_points=runtime.config.quiz.default_points)
    path.unlink(missing_ok=True)
    session["uploads"].pop(token, None)
    session.modified = True
    flash(f"已导入题库「{result.bank}」第 {result.version} 版，{type_counts_line(result.total, result.by_type)}")
    if result.retired:
        flash(f"上一版的 {result.retired} 道题已停用；正在进行的答题仍使用开始时抽到的题目。")
    if name != runtime.config.quiz.bank:
        flash(f"注意：答题使用的是题库「{runtime.config.quiz.bank}」（配置 quiz.bank），不是「{name}」。", "warning")
    else:
        for warning in fit_warnings(runtime.config.quiz, report.questions):
            flash(f"注意：{warning}", "warning")
    return redirect(url_for(".questions", name=result.bank))


@bp.get("/<name>")
def questions(name: str):
    """Browse and search a bank's active questions."""
    runtime = _runtime()
    query = request.args.get("q", "").strip()
    qtype = request.args.get("type", "")
    page = max(request.args.get("page", 1, type=int), 1)
    with runtime.db.reader() as db:
        bank = db.scalars(select(Bank).where(Bank.name == name)).first()
        if bank is None:
            abort(404)
        where = [QuestionRow.bank_id == bank.id, QuestionRow.retired.is_(False)]
        if query:
            like = "%" + _escape_like(query) + "%"
            where.append(or_(QuestionRow.stem.like(like, escape="\\"), QuestionRow.category.like(like, escape="\\"),
                             QuestionRow.explanation.like(like, escape="\\")))
        if qtype in TYPES:
            where.append(QuestionRow.qtype == qtype)
        total = db.scalar(select(func.count()).select_from(QuestionRow).where(*where))
        pages = max(math.ceil(total / PAGE_SIZE), 1)
        page = min(page, pages)
        rows = list(db.scalars(select(QuestionRow).where(*where).order_by(QuestionRow.position)
                               .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    return render_template("admin/questions.html", bank=bank, rows=rows, total=total, page=page, pages=pages,
                           query=query, qtype=qtype, types=TYPES, active=runtime.config.quiz.bank)
