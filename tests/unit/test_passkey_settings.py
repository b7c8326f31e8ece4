"""Which sites can offer passkeys (a domain name, not an IP address; off by setting),
and what a new passkey is called before its owner renames it."""

from __future__ import annotations

import pytest

from authkit.config import Settings
from authkit.passkey_names import default_passkey_name

from ..conftest import TEST_SECRET

CHROME_ON_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("base_url", "passkeys", "rp_id"),
    [
        ("https://example.com", True, "example.com"),
        ("https://accounts.example.com:8443/app", True, "accounts.example.com"),
        ("http://localhost:8000", True, "localhost"),
        ("http://127.0.0.1:8000", True, None),
        ("http://[::1]:8000", True, None),
        ("https://example.com", False, None),
    ],
)
def test_the_relying_party_is_the_base_urls_domain(
    base_url: str, passkeys: bool, rp_id: str | None
) -> None:
    settings = Settings(secret_key=TEST_SECRET, base_url=base_url, passkeys=passkeys)
    assert settings.passkey_rp_id == rp_id


def test_passkeys_can_be_turned_off_from_the_environment() -> None:
    environ = {"AUTHKIT_SECRET_KEY": TEST_SECRET, "AUTHKIT_PASSKEYS": "false"}
    assert Settings.from_env(environ).passkeys is False


def test_a_new_passkey_is_named_after_its_password_manager_or_system() -> None:
    assert default_passkey_name("EA9B8D66-4D01-1D21-3CE4-B6B48CB575D4", "") == (
        "Google Password Manager"
    )
    assert default_passkey_name("fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "") == "iCloud Keychain"
    unknown = "00000000-0000-0000-0000-000000000000"
    assert default_passkey_name(unknown, CHROME_ON_MAC) == "Passkey on macOS"
    assert default_passkey_name(unknown, "") == "Passkey"
