"""Render OSM API responses into HTML fragments with Jinja.

Every string in an API response is untrusted. The templates see only cleaned nodes: known fields as
strings, URLs that passed ``safe_url`` (else None), and node types the API documents. Autoescape
is on for every template, and an undefined variable is an error, not an empty string.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import jinja2.meta

from osm_build.errors import RenderError

logger = logging.getLogger(__name__)

KNOWN_NODE_NAMES = frozenset(
    {"TEXT_MAIN", "TEXT_DISCLAIMER", "ACTION_LEARN_MORE", "ACTION_PREQUALIFY", "KLARNA_BADGE", "KLARNA_LOGO"}
)
NODE_TYPES = frozenset({"TEXT", "ACTION", "IMAGE"})
_LOOPBACK_NAMES = frozenset({"localhost"})
_WHITESPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")


def default_templates_dir() -> Path:
    """Return the folder of the templates shipped with the package."""
    return Path(str(resources.files("osm_build.templates")))


def safe_url(value: Any, *, allow_loopback_http: bool = False) -> str | None:
    """Return ``value`` if it is an absolute ``https:`` URL, else None.

    ``http:`` is accepted only when ``allow_loopback_http`` is set and the host is a loopback
    address, which is how the emulator serves its links. URLs with whitespace or control
    characters are rejected, because browsers strip them and could turn them into another URL.
    """
    if not isinstance(value, str):
        return None
    return _checked_url(value, allow_loopback_http)


# Responses repeat their link and badge URLs, so checked URLs are remembered.
@functools.lru_cache(maxsize=4096)
def _checked_url(value: str, allow_loopback_http: bool) -> str | None:
    if not value or len(value) > 4096:
        return None
    if _WHITESPACE_OR_CONTROL.search(value):
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return None
    if not host:
        return None
    if parts.scheme == "https":
        return value
    if parts.scheme == "http" and allow_loopback_http and _is_loopback(host):
        return value
    return None


@functools.lru_cache(maxsize=256)
def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(slots=True)
class Node:
    """A content node of an OSM response, cleaned for templates.

    Templates read its fields; nothing changes them after ``clean_nodes`` (not frozen, because a
    frozen dataclass costs several microseconds more per node on this hot path).
    """

    type: str
    name: str
    known: bool
    value: str = ""
    label: str = ""
    alt: str = ""
    url: str | None = None

    @property
    def css_name(self) -> str:
        """Return a class-name suffix for a known node name, or an empty string."""
        return self.name.lower().replace("_", "-") if self.known else ""


def _text_field(raw: dict, key: str) -> str:
    value = raw.get(key)
    return value if type(value) is str else ""


def clean_nodes(body: Any, *, allow_loopback_http: bool, problems: list[str]) -> list[Node]:
    """Turn the ``content.nodes`` of a response into ``Node`` objects, keeping their order.

    Unknown node types are ignored, as Klarna requires; ``problems`` receives a sentence for each
    node that was dropped or whose URL was rejected.
    """
    content = body.get("content") if isinstance(body, dict) else None
    raw_nodes = content.get("nodes") if isinstance(content, dict) else None
    if not isinstance(raw_nodes, list):
        return []

    nodes = []
    for index, raw in enumerate(raw_nodes):
        if type(raw) is not dict:
            continue
        node_type = raw.get("type")
        if node_type not in NODE_TYPES:
            continue
        name = _text_field(raw, "name")
        url = None
        if node_type != "TEXT":
            url = safe_url(raw.get("url"), allow_loopback_http=allow_loopback_http)
            if url is None:
                problems.append(f"node {index} ({name or node_type}) dropped: URL {raw.get('url')!r} is not https")
                continue
        value = _text_field(raw, "value")
        if node_type == "TEXT" and not value:
            continue
        nodes.append(Node(node_type, name, name in KNOWN_NODE_NAMES, value, _text_field(raw, "label"),
                          _text_field(raw, "alt"), url))
    return nodes


class FragmentRenderer:
    """Renders placements with the site's templates first and the shipped defaults second."""

    def __init__(self, site_templates: Path | None = None, *, allow_loopback_http: bool = False) -> None:
        search_path = [str(site_templates)] if site_templates else []
        search_path.append(str(default_templates_dir()))
        self.allow_loopback_http = allow_loopback_http
        self.environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(search_path),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
            # A build renders thousands of fragments; templates do not change during one.
            auto_reload=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._templates: dict[str, jinja2.Template] = {}

    def template(self, name: str) -> jinja2.Template:
        """Load and cache a template by name.

        Raises:
            RenderError: if the template does not exist or has a syntax error.
        """
        if name not in self._templates:
            try:
                self._templates[name] = self.environment.get_template(name)
            except jinja2.TemplateNotFound:
                raise RenderError(
                    f"template {name!r} not found in {', '.join(self.environment.loader.searchpath)}; "
                    "add it to the site's templates folder or remove the template setting"
                ) from None
            except jinja2.TemplateSyntaxError as error:
                raise RenderError(
                    f"template {error.filename or name}, line {error.lineno}: {error.message}"
                ) from error
        return self._templates[name]

    def template_uses(self, name: str, variable: str) -> bool:
        """Return whether a template (not the ones it imports) reads ``variable``."""
        source, _, _ = self.environment.loader.get_source(self.environment, name)
        return variable in jinja2.meta.find_undeclared_variables(self.environment.parse(source))

    def render(
        self, template_name: str, *, placement_key: str, locale: str, purchase_amount: int | None,
        body: Any, problems: list[str],
    ) -> str:
        """Render one response body, or return an empty string when it has nothing to show.

        A body has something to show when it has a ``TEXT_MAIN`` node, or failing that any
        ``TEXT`` node. ``problems`` receives sentences about dropped nodes and URLs.
        """
        nodes = clean_nodes(body, allow_loopback_http=self.allow_loopback_http, problems=problems)
        if not any(node.type == "TEXT" for node in nodes):
            return ""
        raw_impression = body.get("impression_url") if isinstance(body, dict) else None
        impression_url = safe_url(raw_impression, allow_loopback_http=self.allow_loopback_http)
        if raw_impression is not None and impression_url is None:
            problems.append(f"impression_url {raw_impression!r} rejected: not an https URL")

        template = self.template(template_name)
        try:
            return template.render(
                placement_key=placement_key,
                locale=locale,
                purchase_amount=purchase_amount,
                nodes=nodes,
                impression_url=impression_url,
            ).strip()
        except jinja2.UndefinedError as error:
            line = _template_line(error, template)
            raise RenderError(f"template {template_name}{line}: {error.message}") from error


def _template_line(error: Exception, template: jinja2.Template) -> str:
    traceback = error.__traceback__
    line = None
    while traceback is not None:
        # Jinja rewrites template frames so that their line numbers are template lines.
        if traceback.tb_frame.f_code.co_filename == template.filename:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return f", line {line}" if line else ""
