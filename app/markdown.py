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


def _image_as_link(self, tokens, idx, options, env) -> str:  # noqa: ANN001, ARG001
    """Remote images are not loaded (they would track readers); a relative one becomes a link to the file."""
    token = tokens[idx]
    alt = escapeHtml(self.renderInlineAsText(token.children or [], options, env) or "image")
    src = token.attrGet("src") or ""
    if src and "://" not in src and not src.startswith(("//", "/", "data:")):
        return f'<a href="{escapeHtml(src)}">[image: {alt}]</a>'
    return f"[image not loaded: {alt}]"


_MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")
_MD.add_render_rule("image", _image_as_link)
_TAGS = set(nh3.ALLOWED_TAGS) - {"img", "area", "map"}


def render_markdown(text: str) -> str:
    """Markdown to HTML with any HTML in the source escaped, then sanitised again."""
    return nh3.clean(_MD.render(text), tags=_TAGS, url_schemes={"http", "https", "mailto"},
                     link_rel="noopener noreferrer nofollow")
