"""Find what in the published site is out of date: expired fragments and due price changes.

``osm-build check`` reads the published manifest only, so cron or CI can run it cheaply and start
a build when it exits 1.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from osm_build.config import LoadedConfig
from osm_build.errors import OsmBuildError
from osm_build.output import MANIFEST_NAME
from osm_build.publish import Publisher


@dataclass(frozen=True)
class StaleEntry:
    """One reason to rebuild.

    Attributes:
        kind: ``expired`` (a fragment's cache lifetime ended) or ``price_change`` (a sale window
            started or ended).
        key: the fragment key, or ``<product> <variant> <locale>`` for a price change.
        due: when it became stale, ISO 8601 UTC.
    """

    kind: str
    key: str
    due: str


@dataclass
class CheckResult:
    """The stale entries that ``osm-build check`` found in one manifest."""

    manifest: str
    checked_at: str
    fragments: int = 0
    items: int = 0
    stale: list[StaleEntry] = field(default_factory=list)

    @property
    def is_stale(self) -> bool:
        return bool(self.stale)

    def to_dict(self) -> dict:
        return {**asdict(self), "is_stale": self.is_stale}

    def summary(self) -> str:
        expired = sum(1 for entry in self.stale if entry.kind == "expired")
        changes = len(self.stale) - expired
        if not self.stale:
            return f"Up to date: {self.fragments} fragments and {self.items} priced items checked"
        return (f"Stale: {expired} of {self.fragments} fragments expired and {changes} of {self.items} "
                "priced items have a price change due; run `osm-build build`")


def check_published_site(config: LoadedConfig, now: datetime | None = None) -> CheckResult:
    """Read the published manifest and list every expired fragment and due price change.

    Raises:
        OsmBuildError: when nothing is published or the manifest cannot be read.
    """
    settings = config.settings
    output = config.resolve(settings.output.directory)
    release = Publisher(output).current()
    if release is None:
        raise OsmBuildError(f"Nothing is published at {output}; run `osm-build build` first.")
    manifest_path = release / settings.output.assets_path / MANIFEST_NAME
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise OsmBuildError(f"Cannot read the manifest {manifest_path}: {error}. Run `osm-build build`.") from error
    return find_stale(manifest, manifest_path, now or datetime.now(UTC))


def find_stale(manifest: dict, manifest_path: Path, now: datetime) -> CheckResult:
    """List the fragments whose ``expires_at`` and the items whose ``price_changes_at`` have passed."""
    result = CheckResult(manifest=str(manifest_path), checked_at=now.isoformat())
    for key, fragment in sorted(manifest.get("fragments", {}).items()):
        result.fragments += 1
        due = _parse_time(fragment.get("expires_at"))
        if due is not None and due <= now:
            result.stale.append(StaleEntry("expired", key, due.isoformat()))
    for product, entries in sorted(manifest.get("products", {}).items()):
        for entry in entries:
            result.items += 1
            due = _parse_time(entry.get("price_changes_at"))
            if due is not None and due <= now:
                variant = entry.get("variant") or "-"
                result.stale.append(StaleEntry("price_change", f"{product} {variant} {entry.get('locale')}",
                                               due.isoformat()))
    return result


def _parse_time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
