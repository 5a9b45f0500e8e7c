"""Write a build into a staging folder and swap it in atomically.

The output path (for example ``_site``) is a symbolic link to a release folder beside it, in
``.<name>.releases/``. A build writes a new release folder, then replaces the link with
``os.replace``, which is atomic on POSIX: a reader sees the old site or the new one, never a mix.
The previous release is kept for ``osm-build rollback``; older ones are removed.

If the output path is a real folder from an earlier osm-build version, or an empty one, it is
moved into the releases folder the first time. Any other folder there is an error.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path

from osm_build import sharing
from osm_build.errors import PublishError

logger = logging.getLogger(__name__)

KEEP_RELEASES = 2
MANIFEST_MARKER = "manifest.json"
REFERENCES_SUFFIX = ".refs.json"

# The cleanups started for each releases folder, shared by every Publisher of that folder in this
# process, so that a caller can wait for the ones started by earlier builds.
_cleanups: dict[Path, list[threading.Thread]] = {}
STAGING_PREFIX = "staging-"


class Publisher:
    """Creates staging folders for an output path and publishes them."""

    def __init__(self, output: Path) -> None:
        self.output = output.absolute()
        self.releases = self.output.parent / f".{self.output.name}.releases"

    def current(self) -> Path | None:
        """Return the release folder that is published now, or None."""
        if self.output.is_symlink():
            target = self.output.parent / os.readlink(self.output)
            return target if target.is_dir() else None
        if self.output.is_dir():
            return self.output
        return None

    def stage(self) -> Path:
        """Create and return an empty staging folder, removing any left by a crashed build.

        It does not wait for the removal of old releases: that touches only releases that no
        kept release links into, and a new build links only into kept ones.
        """
        self.check_output_folder()
        try:
            self.releases.mkdir(parents=True, exist_ok=True)
            for leftover in self.releases.glob(f"{STAGING_PREFIX}*"):
                logger.info("Removing %s, left by an interrupted build", leftover)
                shutil.rmtree(leftover, ignore_errors=True)
            staging = self.releases / f"{STAGING_PREFIX}{os.getpid()}-{time.time_ns()}"
            staging.mkdir()
        except OSError as error:
            raise PublishError(f"cannot create a staging folder in {self.releases}: {error}") from error
        return staging

    def publish(self, staging: Path) -> Path:
        """Turn ``staging`` into a release and point the output link at it.

        Returns:
            The release folder now published.
        """
        release = self.releases / f"release-{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**9:09d}"
        try:
            staging.rename(release)
            owners = sharing.references(release, self.releases)
            if owners:
                (self.releases / f"{release.name}{REFERENCES_SUFFIX}").write_text(
                    json.dumps(sorted(owners)), encoding="utf-8"
                )
            self._adopt_plain_folder()
            link = self.output.parent / f".{self.output.name}.link-{os.getpid()}"
            if link.is_symlink():
                link.unlink()
            link.symlink_to(os.path.relpath(release, self.output.parent))
            os.replace(link, self.output)
        except OSError as error:
            raise PublishError(f"cannot publish {release} as {self.output}: {error}") from error

        # Removing an old release of many files takes seconds, and the new one is live already.
        # A thread does it; it is not a daemon, so the process waits for it before exiting.
        cleanup = threading.Thread(target=self._prune, args=(release,), name="osm-prune-releases")
        _cleanups.setdefault(self.releases, []).append(cleanup)
        cleanup.start()
        return release

    def wait_for_cleanup(self) -> None:
        """Wait until old releases from the last publish are removed."""
        for cleanup in _cleanups.pop(self.releases, []):
            cleanup.join()

    def rollback(self) -> Path:
        """Point the output back at the previous release.

        Raises:
            PublishError: if there is no previous release.
        """
        self.wait_for_cleanup()
        current = self.current()
        releases = self._releases()
        older = [release for release in releases if current is None or release.name < current.name]
        if not older:
            raise PublishError(f"no earlier release of {self.output} to roll back to in {self.releases}")
        previous = older[-1]
        link = self.output.parent / f".{self.output.name}.link-{os.getpid()}"
        link.symlink_to(os.path.relpath(previous, self.output.parent))
        os.replace(link, self.output)
        return previous

    def abandon(self, staging: Path) -> None:
        """Remove a staging folder after a failed build; the published site is untouched."""
        shutil.rmtree(staging, ignore_errors=True)

    def check_output_folder(self) -> None:
        """Check that a plain folder at the output path can become a release.

        Raises:
            PublishError: if the folder is neither empty nor an earlier osm-build output (one
                with a ``manifest.json`` in a subfolder), so that a mistyped output path never
                swallows other files.
        """
        if self.output.is_symlink() or not self.output.is_dir():
            return
        entries = list(self.output.iterdir())
        if not entries or any(self.output.glob(f"*/{MANIFEST_MARKER}")):
            return
        raise PublishError(
            f"output folder {self.output} already exists and was not written by osm-build; "
            "move its files away or set output.directory to another folder"
        )

    def _adopt_plain_folder(self) -> None:
        if self.output.is_dir() and not self.output.is_symlink():
            adopted = self.releases / "release-00000000T000000-adopted"
            self.output.rename(adopted)
            logger.info("Moved the existing folder %s to %s", self.output, adopted)

    def _releases(self) -> list[Path]:
        return sorted(path for path in self.releases.glob("release-*") if path.is_dir())

    def _prune(self, keep: Path) -> None:
        releases = self._releases()
        kept = {release.name for release in releases[-KEEP_RELEASES:]} | {keep.name}
        # Releases whose folders a kept release links to (share_unchanged_folders) stay too.
        for name in list(kept):
            kept |= self._references_of(name)
        for old in releases:
            if old.name not in kept:
                shutil.rmtree(old, ignore_errors=True)
                (self.releases / f"{old.name}{REFERENCES_SUFFIX}").unlink(missing_ok=True)

    def _references_of(self, name: str) -> set[str]:
        path = self.releases / f"{name}{REFERENCES_SUFFIX}"
        try:
            return set(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return set()
        except (OSError, ValueError) as error:
            logger.warning("Cannot read %s (%s); keeping every release", path, error)
            return {release.name for release in self._releases()}
