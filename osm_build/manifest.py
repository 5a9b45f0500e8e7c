"""Read the published ``manifest.json`` without parsing all of it.

The writer (``osm_build.output.write_manifest``) puts the ``products`` section last, one product
per line::

    {
     "generated_at": ...,
     "fragments": {...},
     "pages": {...},
     "products": {
      "44": [{"variant": "76", "locale": "en-US", "purchase_amount": 2000, ...}],
      "45": [...]
     }
    }

So the header before ``"products"`` is small JSON, and a product's entries can be found, copied
or parsed one line at a time. A file in another layout is still read, by parsing it whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

PRODUCTS_MARKER = '\n "products": {'
_KEY_DECODER = json.JSONDecoder()


def read_header(path: Path) -> dict:
    """Return every top-level key of the manifest except ``products``, reading no further.

    Raises:
        OSError, ValueError: if the file cannot be read or is not JSON.
    """
    lines = []
    with path.open(encoding="utf-8") as stream:
        for line in stream:
            if line.startswith(PRODUCTS_MARKER[1:]):
                return json.loads("".join(lines).rstrip().removesuffix(",") + "\n}")
            lines.append(line)
    document = json.loads("".join(lines))
    document.pop("products", None)
    return document


def iter_section_lines(path: Path, section: str) -> Iterator[tuple[str, str]]:
    """Yield (key, the JSON text of its value) for each entry of a top-level section, in file order.

    ``section`` is ``fragments``, ``pages`` or ``products``, which the writer puts one entry per
    line. A manifest in another layout is parsed whole instead.
    """
    opening = f" {json.dumps(section)}: {{"
    with path.open(encoding="utf-8") as stream:
        for line in stream:
            if line.startswith(opening):
                break
        else:
            yield from _iter_parsed_section(path, section)
            return
        for line in stream:
            if not line.startswith('  "'):
                break
            end = line.find('": ', 3)
            key = line[3:end]
            if end == -1 or "\\" in key:
                # An escaped character: let json decode the key.
                key, end = _KEY_DECODER.raw_decode(line, 2)
                end -= 1
            value = line[end + 3:].rstrip("\n")
            yield key, value.removesuffix(",")


def iter_product_lines(path: Path) -> Iterator[tuple[str, str]]:
    """Yield (product id, the JSON text of its entries) for each product, in file order."""
    return iter_section_lines(path, "products")


def _iter_parsed_section(path: Path, section: str) -> Iterator[tuple[str, str]]:
    for key, value in json.loads(path.read_text(encoding="utf-8")).get(section, {}).items():
        yield key, json.dumps(value)


def read_section(path: Path, section: str) -> dict:
    """Return a whole one-entry-per-line section, parsed."""
    return {key: json.loads(value) for key, value in iter_section_lines(path, section)}


def pages_showing(path: Path, products: Iterable[str]) -> dict[str, list[str]]:
    """Return the pages whose product list names any of ``products``, parsing only those lines."""
    wanted = set(products)
    needles = [json.dumps(product) for product in wanted]
    pages = {}
    for page, value in iter_section_lines(path, "pages"):
        if any(needle in value for needle in needles):
            listed = json.loads(value)
            if wanted.intersection(listed):
                pages[page] = listed
    return pages


def read_products(path: Path, products: Iterable[str] | None = None) -> dict[str, list[dict]]:
    """Return the entries of the named products (all products when None) that the manifest has."""
    wanted = None if products is None else set(products)
    return {
        key: json.loads(entries)
        for key, entries in iter_product_lines(path)
        if wanted is None or key in wanted
    }


class PublishedProducts(Mapping[str, list[dict]]):
    """The manifest's products as a read-only mapping that parses each product on first access.

    Looking up a few products of a large manifest then costs one scan of the file, not a parse
    of every entry.
    """

    def __init__(self, path: Path) -> None:
        self._raw = dict(iter_product_lines(path))
        self._parsed: dict[str, list[dict]] = {}

    def __getitem__(self, product: str) -> list[dict]:
        entries = self._parsed.get(product)
        if entries is None:
            entries = self._parsed[product] = json.loads(self._raw[product])
        return entries

    def __contains__(self, product: object) -> bool:
        return product in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)
