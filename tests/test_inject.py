"""Tests for filling page placeholders."""

from osm_build.inject import BEGIN_MARKER, END_MARKER, fill_page, page_language, parse_attributes

PAGE = """<!doctype html>
<html lang="en-US">
<head><title>t</title></head>
<body>
<div data-osm-placement="credit-promotion-badge" data-osm-product="44"></div>
<p data-osm-placement='top-strip-promotion-badge'>
</p>
</body>
</html>
"""
SCRIPT = '<script src="osm/osm-beacon.abc.js" defer data-osm-beacon></script>'


def render(placeholder):
    return f"<b>{placeholder.placement_key}:{placeholder.product}</b>"


def test_fill_puts_fragments_inside_markers():
    result = fill_page(PAGE, render, SCRIPT, "index.html")
    assert result.filled == 2
    assert result.problems == []
    assert (
        f'data-osm-product="44">{BEGIN_MARKER}<b>credit-promotion-badge:44</b>{END_MARKER}</div>'
        in result.text
    )
    assert f"{BEGIN_MARKER}<b>top-strip-promotion-badge:None</b>{END_MARKER}\n</p>" in result.text


def test_script_included_once_before_head_end():
    result = fill_page(PAGE, render, SCRIPT, "index.html")
    assert result.text.count("data-osm-beacon") == 1
    assert f"{SCRIPT}\n</head>" in result.text


def test_fill_twice_gives_same_page():
    once = fill_page(PAGE, render, SCRIPT, "index.html").text
    twice = fill_page(once, render, SCRIPT, "index.html").text
    assert twice == once
    assert twice.count(BEGIN_MARKER) == 2


def test_refill_replaces_old_fragment():
    once = fill_page(PAGE, render, SCRIPT, "index.html").text
    again = fill_page(once, lambda placeholder: "<i>new</i>", SCRIPT, "index.html").text
    assert "<b>" not in again
    assert again.count("<i>new</i>") == 2


def test_placeholder_with_content_reported():
    page = '<div data-osm-placement="credit-promotion-badge" data-osm-product="1"><span>x</span></div>'
    result = fill_page(page, render, SCRIPT, "shop/item.html")
    assert result.filled == 0
    assert result.text == page
    assert result.problems == [
        "shop/item.html:1: placeholder <div data-osm-placement=...> is not empty; leave it empty "
        "(<div ...></div>) so osm-build can fill it"
    ]


def test_page_without_placeholders_gets_no_script():
    page = "<html><head></head><body><p>plain</p></body></html>"
    assert fill_page(page, render, SCRIPT, "plain.html").text == page


def test_none_leaves_placeholder_empty():
    result = fill_page(PAGE, lambda placeholder: None, SCRIPT, "index.html")
    assert result.filled == 0
    assert BEGIN_MARKER not in result.text
    assert "data-osm-beacon" not in result.text


def test_attributes_are_unescaped():
    attributes = parse_attributes(' data-osm-product="a&amp;b" data-x=\'1\' data-y=plain')
    assert attributes == {"data-osm-product": "a&b", "data-x": "1", "data-y": "plain"}


def test_page_language_read_from_html_element():
    assert page_language(PAGE) == "en-US"
    assert page_language("<html><body></body></html>") is None
