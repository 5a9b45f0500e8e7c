"""The base class for config sections and helpers for their error messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A validated, immutable part of site_config.yaml.

    Unknown keys are kept (``extra="allow"``) so that the loader can warn about each one with its
    key path instead of failing on the first.
    """

    model_config = ConfigDict(extra="allow", frozen=True, str_strip_whitespace=True)


def format_key_path(location: tuple[Any, ...]) -> str:
    """Format a location such as ``("placements", 1, "template")`` as ``placements[1].template``."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def iter_unknown_keys(model: BaseModel, location: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Yield the location of every key that no section of the schema declares."""
    for key in model.model_extra or {}:
        yield (*location, key)
    for name in type(model).model_fields:
        value = getattr(model, name)
        yield from _iter_unknown_in_value(value, (*location, name))


def _iter_unknown_in_value(value: Any, location: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, BaseModel):
        yield from iter_unknown_keys(value, location)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _iter_unknown_in_value(item, (*location, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _iter_unknown_in_value(item, (*location, key))
