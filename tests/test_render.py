"""Tests for rendering hostile and ordinary OSM API responses."""

import pytest

from osm_build.errors import RenderError
from osm_build.render import FragmentRenderer, safe_url

HOSTILE_ANSWER = {
    "content": {
        "nodes": [
            {"type": "TEXT", "name": "TEXT_MAIN", "value": 'Pay <script>alert(1)</script> "now"'},
            {"type": "TEXT", "name": "TEXT_LEGAL_NEW", "value": "<b>Credit</b> terms apply"},
            {"type": "ACTION", "name": "ACTION_LEARN_MORE", "label": "<img src=x onerror=alert(1)>",
             "url": "javascript:alert(1)"},
            {"type": "ACTION", "name": "ACTION_PREQUALIFY", "label": "Check", "url": "https://example.test/q?a=1&b=\"2\""},
            {"type": "IMAGE", "name": "KLARNA_BADGE", "alt": '" onload="alert(1)', "url": "data:image/svg+xml,<svg/>"},
            {"type": "VIDEO", "name": "NEW_THING", "url": "https://example.test/v"},
            {"type": "TEXT", "name": {"nested": 1}, "value": ["not", "text"]},
        ]
    },
    "impression_url": "javascript:alert(2)",
}


def render(body, *, allow_loopback_http=False, problems=None):
    renderer = FragmentRenderer(allow_loopback_http=allow_loopback_http)
    return renderer.render(
        "credit-promotion-badge.html", placement_key="credit-promotion-badge", locale="en-US",
        purchase_amount=4500, body=body, problems=problems if problems is not None else [],
    )


def test_hostile_answer_rendered_harmless():
    problems = []
    html = render(HOSTILE_ANSWER, problems=problems)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript:" not in html
    assert "data:image" not in html
    assert "onerror=alert" not in html.replace("&lt;", "<").split("<a")[0]
    assert '<span class="osm-text">&lt;b&gt;Credit&lt;/b&gt; terms apply</span>' in html
    assert 'href="https://example.test/q?a=1&amp;b=&#34;2&#34;"' in html
    assert "NEW_THING" not in html
    assert "data-osm-impression-url" not in html
    assert problems == [
        "node 2 (ACTION_LEARN_MORE) dropped: URL 'javascript:alert(1)' is not https",
        "node 4 (KLARNA_BADGE) dropped: URL 'data:image/svg+xml,<svg/>' is not https",
        "impression_url 'javascript:alert(2)' rejected: not an https URL",
    ]


def test_nodes_keep_api_order():
    body = {"content": {"nodes": [
        {"type": "IMAGE", "name": "KLARNA_BADGE", "alt": "Klarna", "url": "https://cdn.test/b.svg"},
        {"type": "TEXT", "name": "TEXT_MAIN", "value": "Make 4 payments of $11.25."},
        {"type": "ACTION", "name": "ACTION_LEARN_MORE", "label": "Learn more", "url": "https://cdn.test/l"},
    ]}, "impression_url": "https://evt.test/i?t=1"}
    html = render(body)
    assert html.index("osm-klarna-badge") < html.index("osm-text-main") < html.index("osm-action-learn-more")
    assert 'data-osm-impression-url="https://evt.test/i?t=1"' in html
    assert 'data-osm-amount="4500"' in html


def test_answer_without_text_renders_nothing():
    assert render({"content": {"nodes": []}}) == ""
    assert render({"content": {"nodes": [{"type": "IMAGE", "name": "KLARNA_BADGE", "url": "https://a.test/x"}]}}) == ""
    assert render({}) == ""
    assert render(None) == ""


def test_loopback_http_only_when_allowed():
    assert safe_url("http://127.0.0.1:8080/x") is None
    assert safe_url("http://127.0.0.1:8080/x", allow_loopback_http=True) == "http://127.0.0.1:8080/x"
    assert safe_url("http://localhost/x", allow_loopback_http=True) == "http://localhost/x"
    assert safe_url("http://example.test/x", allow_loopback_http=True) is None
    assert safe_url("https://example.test/x") == "https://example.test/x"
    assert safe_url("https://exa mple.test/x") is None
    assert safe_url("https:///nohost") is None
    assert safe_url("//example.test/x") is None


def test_site_template_overrides_default(tmp_path):
    (tmp_path / "credit-promotion-badge.html").write_text("<p>{{ nodes[0].value }}</p>", encoding="utf-8")
    renderer = FragmentRenderer(tmp_path)
    html = renderer.render(
        "credit-promotion-badge.html", placement_key="credit-promotion-badge", locale="en-US",
        purchase_amount=1, body={"content": {"nodes": [{"type": "TEXT", "name": "TEXT_MAIN", "value": "<x>"}]}},
        problems=[],
    )
    assert html == "<p>&lt;x&gt;</p>"


def test_undefined_variable_names_template_and_line(tmp_path):
    (tmp_path / "broken.html").write_text("line one\n{{ no_such_variable.attribute }}", encoding="utf-8")
    renderer = FragmentRenderer(tmp_path)
    with pytest.raises(RenderError) as raised:
        renderer.render("broken.html", placement_key="credit-promotion-badge", locale="en-US",
                        purchase_amount=1, body={"content": {"nodes": [{"type": "TEXT", "name": "TEXT_MAIN", "value": "x"}]}},
                        problems=[])
    assert str(raised.value.message).startswith("template broken.html, line 2: ")
    assert "no_such_variable" in raised.value.message


def test_missing_template_says_where_it_looked(tmp_path):
    renderer = FragmentRenderer(tmp_path)
    with pytest.raises(RenderError) as raised:
        renderer.template("nope.html")
    assert "template 'nope.html' not found in " + str(tmp_path) in raised.value.message
