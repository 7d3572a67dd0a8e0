"""The IP-week quiz and outreach bot: web app, webhook, quiz flow and commands."""
from .app import create_app

__all__ = ["create_app"]
