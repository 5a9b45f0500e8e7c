"""Share unchanged folders between releases, for fast incremental builds.

An incremental build normally hard-links every file of the published release into the new one
(``output.link_tree``), one link per file. With ``output.share_unchanged_folders`` it links
folders instead: each folder of the new release starts as a symbolic link to the real folder in
the release that owns it. A folder that the build writes into first becomes a real folder
whose entries are again links (``materialize``). So only the folders on the way to a changed
file cost one link per entry, and nothing is written through a symbolic link into a published
release.

A release then depends on the releases its links point into; ``references`` lists them, and the
publisher keeps those releases. Web servers must follow symbolic links, and a deploy step must
copy the site with links dereferenced (``rsync -L``, ``cp -rL``): that is why it is optional.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

_shared_root: str | None = None


@contextlib.contextmanager
def shared_staging(root: Path) -> Iterator[None]:
    """Mark ``root`` as a staging folder whose subfolders may be links into other releases."""
    global _shared_root
    _shared_root = str(root)
    try:
        yield
    finally:
        _shared_root = None


def share_tree(source: Path, target: Path) -> None:
    """Fill the existing folder ``target`` with links to the entries of ``source``.

    Folders become symbolic links to their real location (never to another link), and files
    become hard links.
    """
    _populate(str(source), str(target))


def _populate(source: str, target: str) -> None:
    source = os.path.realpath(source)
    link_prefix = os.path.relpath(source, target)
    for entry in os.scandir(source):
        destination = f"{target}/{entry.name}"
        if entry.is_symlink():
            real = os.path.realpath(entry.path)
            if os.path.isdir(real):
                os.symlink(os.path.relpath(real, target), destination)
            else:
                os.link(real, destination)
        elif entry.is_dir():
            os.symlink(f"{link_prefix}/{entry.name}", destination)
        else:
            os.link(entry.path, destination)


def materialize(folder: Path) -> None:
    """Turn each linked folder between the shared staging root and ``folder`` into a real one.

    Does nothing outside a ``shared_staging`` block or for folders outside its root.
    """
    if _shared_root is None:
        return
    text = str(folder)
    if not text.startswith(_shared_root + os.sep):
        return
    current = _shared_root
    for part in text[len(_shared_root) + 1:].split(os.sep):
        current = f"{current}/{part}"
        if os.path.islink(current):
            real = os.path.realpath(current)
            os.unlink(current)
            os.mkdir(current)
            _populate(real, current)
        elif not os.path.isdir(current):
            return


def references(release: Path, releases: Path) -> set[str]:
    """Return the names of the releases that ``release`` links into."""
    owners = set()
    root = os.path.realpath(releases)
    for folder, folder_names, _ in os.walk(release):
        for name in folder_names:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                relative = os.path.relpath(os.path.realpath(path), root)
                owners.add(relative.split(os.sep, 1)[0])
    owners.discard(release.name)
    return owners
