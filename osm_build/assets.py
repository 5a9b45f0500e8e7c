"""Files that osm-build writes beside the fragments: the beacon script and safe file names."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from dataclasses import dataclass
from pathlib import Path

from osm_build.render import default_templates_dir

BEACON_SOURCE = "osm-beacon.js"
_UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class BeaconScript:
    """The beacon script's content and the name and SRI hash it is published under."""

    content: bytes
    file_name: str
    integrity: str

    def tag(self, src: str, *, mode: str, count_back_forward_cache: bool) -> str:
        """Return the ``<script>`` element that includes the script with its SRI hash."""
        return (
            f'<script src="{html.escape(src)}" integrity="{self.integrity}" crossorigin="anonymous" defer '
            f'data-osm-beacon data-osm-mode="{html.escape(mode)}" '
            f'data-osm-bfcache="{"count" if count_back_forward_cache else "ignore"}"></script>'
        )


def load_beacon_script(site_templates: Path | None = None) -> BeaconScript:
    """Read the beacon script (the site's copy first) and name it by its content hash."""
    source = None
    if site_templates and (site_templates / BEACON_SOURCE).is_file():
        source = site_templates / BEACON_SOURCE
    else:
        source = default_templates_dir() / BEACON_SOURCE
    content = source.read_bytes()
    digest = hashlib.sha256(content).hexdigest()[:12]
    integrity = "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode("ascii")
    return BeaconScript(content=content, file_name=f"osm-beacon.{digest}.js", integrity=integrity)


def safe_file_name(identifier: str) -> str:
    """Turn any product or variant id into a file name that stays inside its folder.

    Characters other than ASCII letters, digits, ``_`` and ``-`` become ``_``, so ``..`` and
    ``/`` cannot escape. The result is shortened, and a hash of the original id is appended so
    that ids differing only in replaced characters do not collide.
    """
    readable = _UNSAFE_CHARACTERS.sub("_", identifier).strip("_")[:60] or "id"
    digest = hashlib.sha256(identifier.encode("utf-8")).hexdigest()[:10]
    return f"{readable}-{digest}"
