"""Tests for loading and validating site_config.yaml."""

from pathlib import Path

import pytest

from osm_build.config import load_config
from osm_build.errors import ConfigError

VALID = """\
klarna:
  environment: emulator
  region: na
  client_id: ${TEST_OSM_CLIENT_ID:-6d4e4f1c-0b0a-4b7e-9d58-0e6f3c2a7b11}
markets:
  - locale: en-US
placements:
  - key: credit-promotion-badge
catalog:
  path: catalog.csv
  format: woocommerce
  currency: USD
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site_config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_config(write(tmp_path, text))
    return raised.value.problems


def test_valid_config_loads_with_defaults(tmp_path):
    loaded = load_config(write(tmp_path, VALID))
    assert loaded.settings.klarna.client_id == "6d4e4f1c-0b0a-4b7e-9d58-0e6f3c2a7b11"
    assert loaded.settings.markets[0].currency == "USD"
    assert loaded.settings.klarna.user_agent.startswith("osm-build/")
    assert loaded.warnings == []
    assert loaded.resolve(Path("catalog.csv")) == tmp_path.resolve() / "catalog.csv"


def test_environment_variable_is_interpolated(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_OSM_CLIENT_ID", "abc-123")
    loaded = load_config(write(tmp_path, VALID))
    assert loaded.settings.klarna.client_id == "abc-123"


def test_all_errors_reported_in_one_pass(tmp_path):
    text = VALID.replace("environment: emulator", "environment: staging")
    text = text.replace("  - key: credit-promotion-badge\n", "  - key: credit-promotion-badge\n  - key: top-strip\n    template: 5\n")
    text = text.replace("- locale: en-US", "- locale: en-US\n  - locale: xx-YY")
    problems = problems_of(tmp_path, text)
    assert problems == [
        "line 2, klarna.environment: must be one of 'emulator', 'playground' or 'production' (got 'staging')",
        "line 7, markets[1].locale: " + problems[1].split("markets[1].locale: ", 1)[1],
        "line 10, placements[1].key: must be one of 'credit-promotion-badge' or "
        "'top-strip-promotion-badge' (got 'top-strip')",
        "line 11, placements[1].template: Input should be a valid string (got 5)",
    ]
    assert problems[1].startswith("line 7, markets[1].locale: 'xx-YY' is not a locale the OSM API accepts")
    assert "en-US, es-US" in problems[1]


def test_unset_environment_variable_names_key_path(tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_OSM_UNSET", raising=False)
    text = VALID.replace("${TEST_OSM_CLIENT_ID:-6d4e4f1c-0b0a-4b7e-9d58-0e6f3c2a7b11}", "${TEST_OSM_UNSET}")
    assert problems_of(tmp_path, text) == [
        "line 4, klarna.client_id: environment variable TEST_OSM_UNSET is not set; "
        "export it or write ${TEST_OSM_UNSET:-default}"
    ]


def test_missing_key_and_wrong_currency(tmp_path):
    text = VALID.replace("  path: catalog.csv\n", "").replace("- locale: en-US", "- locale: da-DK\n    currency: EUR")
    problems = problems_of(tmp_path, text)
    assert "line 7, markets[0].currency: 'EUR' is not the currency Klarna requires for da-DK (DKK); set currency: DKK" in problems
    assert "line 10, catalog.path: required key is missing" in problems


def test_unknown_key_warns_with_line(tmp_path):
    loaded = load_config(write(tmp_path, VALID.replace("  region: na\n", "  region: na\n  colour: red\n")))
    assert loaded.warnings == ["line 4, klarna.colour: unknown key, ignored; check its spelling"]


def test_api_key_in_file_rejected_without_echo(tmp_path):
    problems = problems_of(tmp_path, VALID.replace("  region: na\n", "  region: na\n  api_key: sk-secret-value\n"))
    assert problems == [
        "line 4, klarna.api_key: secrets must not be written in the config file; put the value in an "
        "environment variable and name it with klarna.api_key_env or webhooks.sources[].secret_env"
    ]


def test_invalid_yaml_names_line(tmp_path):
    problems = problems_of(tmp_path, "klarna:\n  region: [na\n")
    assert problems == ["line 3, invalid YAML: expected ',' or ']', but got '<stream end>'"]


def test_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path / "absent.yaml")
    assert "file not found; create it or pass another with -c/--config PATH" in str(raised.value)


def test_duplicate_locale_rejected(tmp_path):
    problems = problems_of(tmp_path, VALID.replace("- locale: en-US", "- locale: en-US\n  - locale: en-US"))
    assert problems == ["line 5, markets: locale 'en-US' is listed twice; list each market once"]


def test_secret_anywhere_rejected_without_echo(tmp_path):
    problems = problems_of(tmp_path, VALID + "api_key: sk-top-level\nwebhook_secret: whsec_abc\n")
    assert len(problems) == 2
    assert problems[0].startswith("line 13, api_key: secrets must not be written in the config file")
    assert problems[1].startswith("line 14, webhook_secret: secrets must not be written")
    assert not any("sk-top-level" in problem or "whsec_abc" in problem for problem in problems)


@pytest.mark.parametrize("directory", [".", "..", "pages", "pages/inner", "cache_root"])
def test_output_overlapping_inputs_rejected(tmp_path, directory):
    (tmp_path / "pages" / "inner").mkdir(parents=True)
    text = VALID + f"site:\n  pages: pages\noutput:\n  directory: {directory}\ncache:\n  directory: cache_root/x\n"
    problems = problems_of(tmp_path, text)
    assert len(problems) == 1
    assert "output.directory: " in problems[0]
    assert "overlaps the " in problems[0]
    assert "choose a folder of its own, such as _site" in problems[0]


def test_output_inside_config_folder_accepted(tmp_path):
    (tmp_path / "pages").mkdir()
    loaded = load_config(write(tmp_path, VALID + "site:\n  pages: pages\noutput:\n  directory: build/_site\n"))
    assert loaded.settings.output.directory == Path("build/_site")


@pytest.mark.parametrize("assets_path", ["/abs/osm", "../escaped", "a/../../b", "."])
def test_assets_path_must_stay_inside(tmp_path, assets_path):
    problems = problems_of(tmp_path, VALID + f"output:\n  assets_path: {assets_path}\n")
    assert problems == [
        f"line 14, output.assets_path: {assets_path!r} must be a relative folder inside the output, "
        "such as osm or assets/osm"
    ]


def test_missing_pages_and_templates_folders(tmp_path):
    problems = problems_of(tmp_path, VALID + "site:\n  pages: no_pages\ntemplates: no_templates\n")
    assert problems == [
        f"line 14, site.pages: folder {str(tmp_path.resolve() / 'no_pages')!r} not found; point it at the site's pages",
        f"line 15, templates: folder {str(tmp_path.resolve() / 'no_templates')!r} not found; create it or remove the key",
    ]


def test_number_out_of_range_shows_value(tmp_path):
    problems = problems_of(tmp_path, VALID.replace("  region: na\n", "  region: na\n  read_timeout_seconds: 0\n"))
    assert problems == ["line 4, klarna.read_timeout_seconds: Input should be greater than 0 (got 0)"]
