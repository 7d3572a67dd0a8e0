"""单位与区县: players, finished attempts, qualified players and average best score per unit and district,
and the organisation award."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template

from exports.units import award_basis, district_figures, organisation_award, unit_figures

bp = Blueprint("units", __name__, url_prefix="/units")


@bp.get("/")
def index():
    runtime = current_app.extensions["bot"]
    config = runtime.config
    with runtime.db.reader() as session:
        units = unit_figures(session, config)
        districts = district_figures(session, config)
    return render_template("admin/units.html", units=units, districts=districts,
                           award=organisation_award(units, config), basis=award_basis(config),
                           pass_score=config.quiz.pass_score)
