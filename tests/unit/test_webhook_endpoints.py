"""AUTHKIT_WEBHOOKS: a list, inline JSON, a TOML or JSON file; each mistake one sentence."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from authkit import AuthKit, ConfigError
from authkit.webhooks import EVENT_TYPES, load_endpoints, new_secret

from ..conftest import TEST_SECRET

SECRET = new_secret()


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    assert SECRET.startswith("whsec_") and len(base64.b64decode(SECRET[6:])) == 32
    assert new_secret() != SECRET


def test_inline_json_a_list_and_files_all_read_the_same(tmp_path: Path) -> None:
    entry = {"url": "https://hooks.example.com/a", "secret": SECRET, "events": ["user.created"]}
    toml = tmp_path / "hooks.toml"
    toml.write_text(
        f'[[webhooks]]\nurl = "{entry["url"]}"\nsecret = "{SECRET}"\nevents = ["user.created"]\n'
    )
    as_json = tmp_path / "hooks.json"
    as_json.write_text(json.dumps({"webhooks": [entry]}))
    found = {
        load_endpoints([entry]),
        load_endpoints(json.dumps([entry])),
        load_endpoints(str(toml)),
        load_endpoints(str(as_json)),
    }
    (endpoints,) = found
    (endpoint,) = endpoints
    assert endpoint.events == frozenset({"user.created"})
    assert len(endpoint.key) == 16


def test_events_default_to_all_and_nothing_means_no_endpoints() -> None:
    (endpoint,) = load_endpoints([{"url": "http://127.0.0.1:9000/h", "secret": SECRET}])
    assert endpoint.events == EVENT_TYPES
    assert load_endpoints(None) == () == load_endpoints("  ")


@pytest.mark.parametrize(
    ("entry", "sentence"),
    [
        ({"secret": SECRET}, "endpoint 1: `url` is missing."),
        ({"url": "ftp://x.example.com", "secret": SECRET}, "must be an http(s) URL"),
        (
            {"url": "http://hooks.example.com", "secret": SECRET},
            "must use https (plain http only to localhost)",
        ),
        (
            {"url": "https://h.example.com"},
            "`secret` is missing; make one with `authkit webhooks secret`.",
        ),
        ({"url": "https://h.example.com", "secret": "s3cret"}, "must start with 'whsec_'"),
        ({"url": "https://h.example.com", "secret": "whsec_!!"}, "is not base64"),
        (
            {"url": "https://h.example.com", "secret": "whsec_c2hvcnQ="},
            "holds 5 bytes, fewer than 24",
        ),
        (
            {"url": "https://h.example.com", "secret": SECRET, "events": ["user.create"]},
            "unknown event 'user.create' (did you mean 'user.created'?)",
        ),
        (
            {"url": "https://h.example.com", "secret": SECRET, "events": "user.created"},
            "`events` must be a list",
        ),
        (
            {"url": "https://h.example.com", "secret": SECRET, "event": ["user.created"]},
            "unknown key 'event' (did you mean 'events'?)",
        ),
    ],
)
def test_each_mistake_is_one_sentence(entry: dict[str, object], sentence: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_endpoints([entry])
    assert sentence in str(caught.value)
    assert str(caught.value).startswith("AUTHKIT_WEBHOOKS")


def test_bad_json_a_twice_listed_url_and_a_file_without_the_list(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not valid JSON"):
        load_endpoints("[{")
    entry = {"url": "https://h.example.com", "secret": SECRET}
    with pytest.raises(ConfigError, match=re.escape("lists https://h.example.com twice")):
        load_endpoints([entry, entry])
    file = tmp_path / "hooks.toml"
    file.write_text('url = "https://h.example.com"\n')
    with pytest.raises(ConfigError, match=r"under `webhooks` \(\[\[webhooks\]\] tables"):
        load_endpoints(str(file))


def test_the_kit_reads_them_from_the_environment() -> None:
    entry = {"url": "https://h.example.com", "secret": SECRET}
    kit = AuthKit.from_env(
        {"AUTHKIT_SECRET_KEY": TEST_SECRET, "AUTHKIT_WEBHOOKS": json.dumps([entry])}
    )
    assert [e.url for e in kit.services.webhooks.endpoints] == ["https://h.example.com"]
    with pytest.raises(ConfigError, match="AUTHKIT_WEBHOOKS"):
        AuthKit.from_env({"AUTHKIT_SECRET_KEY": TEST_SECRET, "AUTHKIT_WEBHOOKS": "[1]"})
