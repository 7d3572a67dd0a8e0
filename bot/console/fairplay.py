"""公平性审核: players the fair-play rules flagged, why, and staff clearing them (each clearing recorded)."""
from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from bot.masking import mask_name, mask_phone, short_openid
from exports.fairplay import clear, review

logger = logging.getLogger(__name__)

bp = Blueprint("fairplay", __name__, url_prefix="/fairplay")


def _runtime():
    return current_app.extensions["bot"]


@bp.get("/")
def index():
    """List every flagged player, waiting ones first, masked as on every console page."""
    runtime = _runtime()
    with runtime.db.reader() as session:
        flagged = review(session, runtime.config)
    flagged.sort(key=lambda r: (r.cleared, r.openid))
    return render_template("admin/fairplay.html", flagged=flagged, mask_name=mask_name, mask_phone=mask_phone,
                           short_openid=short_openid)


@bp.post("/clear")
def clear_player():
    """Clear one flagged player for draws, with the staff member's name and the reason."""
    runtime = _runtime()
    openid = request.form.get("openid", "").strip()
    by = request.form.get("by", "").strip()
    note = request.form.get("note", "").strip()
    if not by or not note:
        flash("请填写经办人和放行理由后再放行。", "error")
        return redirect(url_for("admin.fairplay.index"))
    with runtime.db.session() as session:
        if openid not in {r.openid for r in review(session, runtime.config)}:
            abort(404)
        clear(session, openid=openid, by=by, note=note, address=request.remote_addr or "", now=runtime.clock())
    logger.info("fair-play flag on %s cleared by staff from %s", short_openid(openid), request.remote_addr)
    flash(f"已放行 {short_openid(openid)}：今后抽奖会把他/她算在内（经办人 {by}）。", "success")
    return redirect(url_for("admin.fairplay.index"))
