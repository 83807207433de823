"""A very small HTML builder: every piece of text is escaped unless it is already HTML.

:class:`Html` marks a string as markup; :func:`el` escapes every child that is not
``Html`` and every attribute value. Scenario and strategy names come from users' files,
so nothing reaches the page without passing through here.
"""

from __future__ import annotations

import html
from collections.abc import Iterable


class Html(str):
    """A string that is already HTML and is inserted as it is."""

    __slots__ = ()


Child = str | Html | None | Iterable["Child"]


def esc(text: object) -> Html:
    """Text as HTML (``Html`` passes unchanged)."""
    if isinstance(text, Html):
        return text
    return Html(html.escape(str(text), quote=True))


def join(children: Child) -> Html:
    """Children as one piece of HTML: strings escaped, ``None`` dropped, lists flattened."""
    if children is None:
        return Html("")
    if isinstance(children, str):
        return esc(children)
    return Html("".join(join(child) for child in children))


def el(tag: str, *children: Child, cls: str | None = None, **attrs: str | int | None) -> Html:
    """``<tag attrs>children</tag>``; ``cls`` is the class attribute, ``None`` attributes
    are left out, and a trailing underscore in a name is dropped (``for_``)."""
    parts = [tag]
    if cls:
        parts.append(f'class="{esc(cls)}"')
    for name, value in attrs.items():
        if value is not None:
            parts.append(f'{name.rstrip("_").replace("_", "-")}="{esc(value)}"')
    opening = "<" + " ".join(parts) + ">"
    if tag in ("img", "br", "meta", "col"):
        return Html(opening)
    return Html(f"{opening}{join(children)}</{tag}>")
