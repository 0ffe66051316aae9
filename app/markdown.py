"""Markdown written by people (reviews, comments, READMEs) to HTML that is safe to show to anyone.

Raw HTML in the source is escaped by the parser, and the output is sanitised again with nh3 (defence in
depth): no scripts, no event handlers, no javascript: links, no images (a remote image would tell its owner
who reads the text).
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

__all__ = ["render_markdown"]


def _is_relative(url: str) -> bool:
    """A link to another file beside this one ("docs/setup.md", "../x"), not to a site, a page anchor or mail."""
    return bool(url) and "://" not in url and not url.startswith(("//", "/", "#", "data:", "mailto:"))


def _with_query(url: str, query: str) -> str:
    """url with `query` ("view=original") added before any #fragment."""
    if not query:
        return url
    path, hash_, fragment = url.partition("#")
    return f"{path}{'&' if '?' in path else '?'}{query}{hash_}{fragment}"


def _image_as_link(self, tokens, idx, options, env) -> str:  # noqa: ANN001, ARG001
    """Remote images are not loaded (they would track readers); a relative one becomes a link to the file."""
    token = tokens[idx]
    alt = escapeHtml(self.renderInlineAsText(token.children or [], options, env) or "image")
    src = token.attrGet("src") or ""
    if _is_relative(src):
        return f'<a href="{escapeHtml(_with_query(src, env.get("link_query", "")))}">[image: {alt}]</a>'
    return f"[image not loaded: {alt}]"


def _link_open(self, tokens, idx, options, env) -> str:  # noqa: ANN001
    """Relative links keep the reader's query (an author browsing the original stays in the original)."""
    href = tokens[idx].attrGet("href") or ""
    if _is_relative(href) and env.get("link_query"):
        tokens[idx].attrSet("href", _with_query(href, env["link_query"]))
    return self.renderToken(tokens, idx, options, env)


_MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")
_MD.add_render_rule("image", _image_as_link)
_MD.add_render_rule("link_open", _link_open)
_TAGS = set(nh3.ALLOWED_TAGS) - {"img", "area", "map"}


def render_markdown(text: str, link_query: str = "") -> str:
    """Markdown to HTML with any HTML in the source escaped, then sanitised again.

    link_query ("view=original") is added to relative links, so they open in the view the reader is in.
    """
    return nh3.clean(_MD.render(text, {"link_query": link_query}), tags=_TAGS, url_schemes={"http", "https", "mailto"},
                     link_rel="noopener noreferrer nofollow")
