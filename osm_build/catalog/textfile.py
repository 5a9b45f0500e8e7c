"""Open catalog files as text and stream CSV rows with their line numbers.

Encodings: a BOM decides (UTF-8, UTF-16 LE or BE, as spreadsheets save them). Without one the
file is read as UTF-8 unless ``catalog.encoding`` names another codec. CSV delimiters (``,``,
``;`` or tab) are sniffed from the header line.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from osm_build.errors import CatalogError

_SAMPLE_CHARS = 65536
_DELIMITERS = (",", ";", "\t")


def detect_encoding(path: Path, configured: str | None) -> str:
    """Return the codec to read ``path`` with, from its BOM or the configured encoding."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError as error:
        raise CatalogError(
            f"Cannot open the catalog export {path}: {error.strerror or error}. "
            "Check catalog.path in the config file (it is relative to the config file's folder)."
        ) from error
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if configured:
        try:
            codecs.lookup(configured)
        except LookupError:
            raise CatalogError(
                f"catalog.encoding {configured!r} is not a codec Python knows; use a name such as "
                "utf-8, cp1252 or latin-1."
            ) from None
        return configured
    return "utf-8"


@contextmanager
def open_text(path: Path, encoding: str) -> Iterator[TextIO]:
    """Open ``path`` for reading as text with newlines kept as written (for the csv module)."""
    try:
        handle = path.open("r", encoding=encoding, newline="")
    except OSError as error:
        raise CatalogError(f"Cannot open the catalog export {path}: {error.strerror or error}.") from error
    with handle:
        try:
            yield handle
        except UnicodeDecodeError as error:
            line = _line_of_decode_error(path, encoding)
            where = f"line {line}" if line else "a line"
            raise CatalogError(
                f"The catalog export {path} is not valid {encoding} text ({error.reason} on {where}). "
                "Save it as UTF-8 or set catalog.encoding, for example to cp1252."
            ) from error


def _line_of_decode_error(path: Path, encoding: str) -> int | None:
    """Return the 1-based line of the first byte that ``encoding`` cannot decode, or None."""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as stream:
            for number, raw_line in enumerate(stream, start=1):
                try:
                    decoder.decode(raw_line)
                except UnicodeDecodeError:
                    return number
    except (OSError, LookupError):
        return None
    return None


def load_json(path: Path, encoding: str) -> Any:
    """Parse a whole JSON file.

    Raises:
        CatalogError: the file cannot be read or is not valid JSON.
    """
    with open_text(path, encoding) as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as error:
            raise CatalogError(f"{path} is not valid JSON: {error}.") from error


def read_sample(path: Path, encoding: str) -> str:
    """Return the first characters of a text file, for format detection."""
    with open_text(path, encoding) as handle:
        return handle.read(_SAMPLE_CHARS)


def sniff_delimiter(sample: str, path: Path) -> str:
    """Return the delimiter that occurs most often outside quotes in the header line."""
    if path.suffix.lower() == ".tsv":
        return "\t"
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for char in sample:
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char in "\r\n":
            break
        elif char in counts:
            counts[char] += 1
    best = max(_DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def clean_header(header: list[str]) -> list[str]:
    """Strip spaces and a stray BOM from column names."""
    return [name.strip().lstrip("\ufeff").strip() for name in header]


class CsvFile:
    """A CSV file read row by row, with the 1-based line where each row starts."""

    def __init__(self, path: Path, encoding: str) -> None:
        self.path = path
        self.encoding = encoding
        self.delimiter = sniff_delimiter(read_sample(path, encoding), path)

    @contextmanager
    def reader(self) -> Iterator[tuple[list[str], csv._reader]]:
        """Open the file and return its cleaned header and the ``csv.reader`` positioned after it.

        The reader's ``line_num`` is the physical line of the last row read, which callers use
        to number rows that span several lines.
        """
        with open_text(self.path, self.encoding) as handle:
            reader = csv.reader(handle, delimiter=self.delimiter)
            yield clean_header(next(reader, [])), reader

    @contextmanager
    def rows(self) -> Iterator[tuple[list[str], Iterator[tuple[int, list[str]]]]]:
        """Open the file and return its header and an iterator of ``(line, row)``.

        Empty rows are left out. Rows keep their length, so readers must allow for ragged rows.
        """
        with self.reader() as (header, reader):
            yield header, numbered_rows(reader)


def numbered_rows(reader: csv._reader) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line, row)`` for each row with a non-empty cell, where line is the row's first line."""
    last_line = reader.line_num
    for row in reader:
        start = last_line + 1
        last_line = reader.line_num
        if row and any(row):
            yield start, row


class Columns:
    """Column positions of a header, with lookups that tolerate ragged rows."""

    def __init__(self, header: list[str]) -> None:
        self.header = header
        self.index: dict[str, int] = {}
        for position, name in enumerate(header):
            self.index.setdefault(name, position)
            self.index.setdefault(name.lower(), position)

    def find(self, *names: str) -> int | None:
        """Return the position of the first of ``names`` in the header (exact, then lowercase)."""
        for name in names:
            if name in self.index:
                return self.index[name]
            if name.lower() in self.index:
                return self.index[name.lower()]
        return None

    def name(self, position: int | None) -> str | None:
        return None if position is None else self.header[position]


def cell(row: list[str], position: int | None) -> str:
    """Return a stripped cell, or "" when the column is absent or the row is short."""
    if position is None or position >= len(row):
        return ""
    return row[position].strip()
