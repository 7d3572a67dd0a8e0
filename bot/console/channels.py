"""Channels: create a channel's permanent QR code, download its image for printing, see what each brought."""
from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, send_file, url_for

from exports.channels import (NAME_MAX, SCENE_MAX, ChannelError, channel_figures, create_channel, image_folder,
                              list_channels, record_image)

logger = logging.getLogger(__name__)

bp = Blueprint("channels", __name__, url_prefix="/channels")


def _runtime():
    return current_app.extensions["bot"]


@bp.get("/")
def index():
    """Show the channel codes with their figures, and the form that creates one."""
    runtime = _runtime()
    config = runtime.config
    with runtime.db.reader() as session:
        channels = {c.scene: c for c in list_channels(session)}
        figures = channel_figures(session, testers=config.quiz.testers, pass_score=config.quiz.pass_score)
    return render_template("admin/channels.html", figures=figures, channels=channels, config=config,
                           folder=image_folder(config.database_url), name_max=NAME_MAX, scene_max=SCENE_MAX)


@bp.post("/")
def create():
    """Create a channel code from the form, then go back to the list."""
    try:
        created = create_channel(runtime=_runtime(), name=request.form.get("name", ""),
                                 scene=request.form.get("scene", ""))
    except ChannelError as exc:
        flash(f"未创建：{exc}", "error")
        return redirect(url_for(".index"))
    channel = created.channel
    logger.info("staff created channel code %s", channel.scene)
    if created.image_path:
        flash(f"已创建渠道「{channel.name}」（场景值 {channel.scene}），二维码图片已保存，可在下表下载印刷。")
    else:
        flash(f"已创建渠道「{channel.name}」（场景值 {channel.scene}），但{created.image_error}；"
              "可稍后在下表点“下载图片”重试。", "warning")
    return redirect(url_for(".index"))


@bp.get("/<scene>/image")
def image(scene: str):
    """Send a channel's code image, downloading it from WeChat again if this machine does not have it."""
    download = request.args.get("download") == "1"
    try:
        channel = record_image(runtime=_runtime(), scene=scene)
    except ChannelError as exc:
        if not download:  # the page's thumbnail: no page to show a message on
            return Response(str(exc), status=404, mimetype="text/plain")
        flash(str(exc), "error")
        return redirect(url_for(".index"))
    suffix = channel.image_path.rsplit(".", 1)[-1]
    return send_file(channel.image_path, as_attachment=download, max_age=0,
                     download_name=f"{channel.name}-{channel.scene}.{suffix}")
