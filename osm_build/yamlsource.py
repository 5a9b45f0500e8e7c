"""Load YAML while remembering the line of every key, and expand ``${ENV_VAR}`` references."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")


@dataclass
class YamlDocument:
    """A parsed YAML mapping with the 1-based line of each key path."""

    data: Any
    lines: dict[tuple[Any, ...], int] = field(default_factory=dict)

    def line_of(self, location: tuple[Any, ...]) -> int | None:
        """Return the line of the deepest known prefix of ``location``, or None."""
        for end in range(len(location), -1, -1):
            line = self.lines.get(tuple(location[:end]))
            if line is not None:
                return line
        return None


def load_yaml(text: str, source: str) -> YamlDocument:
    """Parse YAML text into plain Python values and a map of key paths to lines.

    Raises:
        yaml.YAMLError: if the text is not valid YAML.
    """
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    document = YamlDocument(data=None)
    if root is None:
        document.data = {}
        return document
    _record_lines(root, (), document.lines)
    document.data = yaml.safe_load(text)
    return document


def _record_lines(node: yaml.Node, location: tuple[Any, ...], lines: dict) -> None:
    lines.setdefault(location, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*location, key)] = key_node.start_mark.line + 1
            _record_lines(value_node, (*location, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, (*location, index), lines)


def expand_environment(
    value: Any, location: tuple[Any, ...], missing: list[tuple[tuple[Any, ...], str]]
) -> Any:
    """Replace ``${NAME}`` and ``${NAME:-default}`` in every string with the environment's value.

    A reference to an unset variable without a default is appended to ``missing`` with its key
    path and left in place, so that all of them can be reported together.
    """
    if isinstance(value, str):
        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            missing.append((location, name))
            return match.group(0)

        return _ENV_REFERENCE.sub(substitute, value)
    if isinstance(value, dict):
        return {key: expand_environment(item, (*location, key), missing) for key, item in value.items()}
    if isinstance(value, list):
        return [expand_environment(item, (*location, index), missing) for index, item in enumerate(value)]
    return value
