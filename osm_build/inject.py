"""Put rendered fragments into a site's pages.

A page marks where a placement goes with an empty placeholder element::

    <div data-osm-placement="credit-promotion-badge" data-osm-product="44"></div>

Filling writes the fragments between ``<!--osm:begin-->`` and ``<!--osm:end-->`` inside the
placeholder and includes the beacon script once, before ``</head>``. Both are replaced, never
added again, so filling an already filled page gives the same page.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field

BEGIN_MARKER = "<!--osm:begin-->"
END_MARKER = "<!--osm:end-->"

_PLACEHOLDER = re.compile(
    r"<(?P<tag>[a-zA-Z][a-zA-Z0-9-]*)(?P<attributes>\s[^>]*?\bdata-osm-placement\s*=[^>]*)>",
    re.DOTALL,
)
_ATTRIBUTE = re.compile(r"""([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""")
_BEACON_SCRIPT = re.compile(r"[ \t]*<script\b[^>]*\bdata-osm-beacon\b[^>]*>\s*</script>\n?", re.IGNORECASE)
_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
_HTML_LANG = re.compile(r"<html\b[^>]*\blang\s*=\s*[\"']?([A-Za-z]{2,3}(?:-[A-Za-z]{2})?)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Placeholder:
    """A placeholder element found in a page."""

    tag: str
    attributes: dict[str, str]
    line: int

    @property
    def placement_key(self) -> str:
        return self.attributes.get("data-osm-placement", "")

    @property
    def product(self) -> str | None:
        return self.attributes.get("data-osm-product")


@dataclass
class FillResult:
    """The filled page text and what happened to its placeholders."""

    text: str
    filled: int = 0
    problems: list[str] = field(default_factory=list)


def parse_attributes(text: str) -> dict[str, str]:
    """Parse the attributes of a start tag into a dict of unescaped values."""
    attributes = {}
    for match in _ATTRIBUTE.finditer(text):
        value = next(group for group in match.groups()[1:] if group is not None)
        attributes[match.group(1).lower()] = html.unescape(value)
    return attributes


def page_language(text: str) -> str | None:
    """Return the ``lang`` of the page's ``<html>`` element, such as ``en-US``, or None."""
    match = _HTML_LANG.search(text)
    return match.group(1) if match else None


def fill_page(
    text: str,
    render_placeholder: Callable[[Placeholder], str | None],
    script_tag: str,
    page_name: str,
) -> FillResult:
    """Fill every placeholder of a page and include the beacon script once.

    ``render_placeholder`` returns the HTML to put inside a placeholder, or None to leave it
    empty. A placeholder that has content of its own (no markers) is left alone and reported,
    because replacing it would need an HTML parser to find where it ends.
    """
    result = FillResult(text="")
    if "data-osm-placement" not in text:
        result.text = _BEACON_SCRIPT.sub("", text) if "data-osm-beacon" in text else text
        return result
    pieces: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        if match.start() < position:
            continue
        tag = match.group("tag")
        line = text.count("\n", 0, match.start()) + 1
        placeholder = Placeholder(tag=tag.lower(), attributes=parse_attributes(match.group("attributes")), line=line)
        content_start = match.end()
        content_end = _find_content_end(text, content_start, tag)
        if content_end is None:
            result.problems.append(
                f"{page_name}:{line}: placeholder <{tag} data-osm-placement=...> is not empty; "
                f"leave it empty (<{tag} ...></{tag}>) so osm-build can fill it"
            )
            continue
        fragment = render_placeholder(placeholder)
        pieces.append(text[position:content_start])
        if fragment:
            pieces.append(f"{BEGIN_MARKER}{fragment}{END_MARKER}")
            result.filled += 1
        position = content_end
    pieces.append(text[position:])
    filled = "".join(pieces)

    if "data-osm-beacon" in filled:
        filled = _BEACON_SCRIPT.sub("", filled)
    if result.filled:
        filled = _include_script(filled, script_tag)
    result.text = filled
    return result


def _find_content_end(text: str, start: int, tag: str) -> int | None:
    """Return where the placeholder's content ends (the start of its end tag), or None."""
    if text.startswith(BEGIN_MARKER, start):
        end = text.find(END_MARKER, start)
        if end == -1:
            return None
        after_marker = end + len(END_MARKER)
        return after_marker if _is_end_tag(text, after_marker, tag) else None
    end_tag = re.compile(rf"\s*</{re.escape(tag)}\s*>", re.IGNORECASE)
    match = end_tag.match(text, start)
    return match.start() if match else None


def _is_end_tag(text: str, position: int, tag: str) -> bool:
    return re.compile(rf"\s*</{re.escape(tag)}\s*>", re.IGNORECASE).match(text, position) is not None


def _include_script(text: str, script_tag: str) -> str:
    for pattern in (_HEAD_END, _BODY_END):
        match = pattern.search(text)
        if match:
            return f"{text[:match.start()]}{script_tag}\n{text[match.start():]}"
    return f"{text}\n{script_tag}\n"
