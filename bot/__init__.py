"""The IP-week quiz and outreach bot: web app, webhook, conversation, quiz, console and commands.

Importing `bot` loads nothing else, so `scheduler` and `exports` can use bot's lower layers
(config, storage, the WeChat client, the quiz rules) without pulling in the web app.
"""
from __future__ import annotations


def create_app(*args, **kwargs):
    """Build the Flask app: `gunicorn "bot:create_app()"` (see bot.app.create_app)."""
    from bot.app import create_app as build

    return build(*args, **kwargs)


__all__ = ["create_app"]
