"""Tests for the staging folder and the atomic swap."""

import pytest

from osm_build.errors import PublishError
from osm_build.publish import Publisher


def test_publish_swaps_link_and_keeps_previous(tmp_path):
    publisher = Publisher(tmp_path / "_site")
    first = publisher.stage()
    (first / "index.html").write_text("one")
    publisher.publish(first)
    assert (tmp_path / "_site").is_symlink()
    assert (tmp_path / "_site" / "index.html").read_text() == "one"

    second = publisher.stage()
    (second / "index.html").write_text("two")
    publisher.publish(second)
    assert (tmp_path / "_site" / "index.html").read_text() == "two"

    publisher.rollback()
    assert (tmp_path / "_site" / "index.html").read_text() == "one"


def test_abandoned_staging_leaves_site_intact(tmp_path):
    publisher = Publisher(tmp_path / "_site")
    first = publisher.stage()
    (first / "index.html").write_text("published")
    publisher.publish(first)

    crashed = publisher.stage()
    (crashed / "index.html").write_text("half")
    # A crash leaves the staging folder behind; the next build removes it.
    assert (tmp_path / "_site" / "index.html").read_text() == "published"
    publisher.stage()
    assert not crashed.exists()
    assert (tmp_path / "_site" / "index.html").read_text() == "published"


def test_plain_output_folder_is_adopted(tmp_path):
    (tmp_path / "_site" / "osm").mkdir(parents=True)
    (tmp_path / "_site" / "osm" / "manifest.json").write_text("{}")
    (tmp_path / "_site" / "old.html").write_text("old")
    publisher = Publisher(tmp_path / "_site")
    staging = publisher.stage()
    (staging / "new.html").write_text("new")
    publisher.publish(staging)
    assert (tmp_path / "_site" / "new.html").exists()
    publisher.rollback()
    assert (tmp_path / "_site" / "old.html").read_text() == "old"


def test_only_two_releases_kept(tmp_path):
    publisher = Publisher(tmp_path / "_site")
    for number in range(4):
        staging = publisher.stage()
        (staging / "n").write_text(str(number))
        publisher.publish(staging)
    publisher.wait_for_cleanup()
    assert len(list(publisher.releases.glob("release-*"))) == 2


def test_rollback_without_previous_fails(tmp_path):
    publisher = Publisher(tmp_path / "_site")
    staging = publisher.stage()
    publisher.publish(staging)
    with pytest.raises(PublishError, match="no earlier release"):
        publisher.rollback()


def test_foreign_output_folder_rejected(tmp_path):
    (tmp_path / "_site").mkdir()
    (tmp_path / "_site" / "notes.txt").write_text("mine")
    publisher = Publisher(tmp_path / "_site")
    with pytest.raises(PublishError, match="already exists and was not written by osm-build"):
        publisher.stage()
    assert (tmp_path / "_site" / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "_site").is_symlink()
