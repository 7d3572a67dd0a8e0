"""What the bot sends back, and its rendering as passive-reply XML."""
from __future__ import annotations

from dataclasses import dataclass

from wechatpy.replies import ArticlesReply, TextReply

# WeChat drops passive text replies much over 2,048 bytes; stay under with a margin.
TEXT_LIMIT_BYTES = 2000
ELLIPSIS = "…"


@dataclass(frozen=True)
class Article:
    title: str
    description: str
    url: str
    image: str = ""


@dataclass(frozen=True)
class Outgoing:
    """One passive reply: a text, one news article, or nothing (WeChat is told "success")."""

    text: str = ""
    article: Article | None = None

    @property
    def silent(self) -> bool:
        return not self.text and self.article is None


SILENT = Outgoing()


def fit_text(text: str, limit: int = TEXT_LIMIT_BYTES) -> str:
    """Cut text to the reply limit in bytes, on a character boundary, marking the cut."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    cut = data[: limit - len(ELLIPSIS.encode("utf-8"))].decode("utf-8", "ignore")
    return cut + ELLIPSIS


def _cdata_safe(value: str) -> str:
    """Split "]]>" so that a value wechatpy writes into a CDATA section cannot close it early."""
    return value.replace("]]>", "]]]]><![CDATA[>")


def render_reply(out: Outgoing, *, to_user: str, from_user: str, create_time: int) -> str:
    """Render a reply as WeChat XML; "" for a silent reply."""
    if out.silent:
        return ""
    # The openids and echoed answers come from the sender and may hold "]]>".
    to_user, from_user = _cdata_safe(to_user), _cdata_safe(from_user)
    if out.article is not None:
        reply = ArticlesReply(source=from_user, target=to_user, time=create_time)
        reply.add_article({"title": out.article.title, "description": out.article.description,
                           "image": out.article.image, "url": out.article.url})
        return reply.render()
    return TextReply(source=from_user, target=to_user, time=create_time,
                     content=_cdata_safe(fit_text(out.text))).render()
