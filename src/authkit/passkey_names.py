"""
A new passkey's name, before the user edits it: the password manager or device that
holds it, from the authenticator's AAGUID (the common ones, as the community list
passkey-authenticator-aaguids records them), else the system it was made on.
"""

from __future__ import annotations

from collections.abc import Mapping

from .user_agents import describe_user_agent

__all__ = ["KNOWN_AUTHENTICATORS", "default_passkey_name"]

#: AAGUID → the name people know the authenticator by.
KNOWN_AUTHENTICATORS: Mapping[str, str] = {
    "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": "Google Password Manager",
    "adce0002-35bc-c60a-648b-0b25f1f05503": "Chrome on Mac",
    "fbfc3007-154e-4ecc-8c0b-6e020557d7bd": "iCloud Keychain",
    "dd4ec289-e01d-41c9-bb89-70fa845d4bf2": "iCloud Keychain",
    "08987058-cadc-4b81-b6e1-30de50dcbe96": "Windows Hello",
    "9ddd1817-af5a-4672-a2b9-3e3dd95000a9": "Windows Hello",
    "6028b017-b1d4-4c02-b4b3-afcdafc96bb2": "Windows Hello",
    "bada5566-a7aa-401f-bd96-45619a55120d": "1Password",
    "d548826e-79b4-db40-a3d8-11116f7e8349": "Bitwarden",
    "531126d6-e717-415c-9320-3d9aa6981239": "Dashlane",
    "53414d53-554e-4700-0000-000000000000": "Samsung Pass",
    "50726f74-6f6e-5061-7373-50726f746f6e": "Proton Pass",
    "fdb141b2-5d84-443e-8a35-4698c205a502": "KeePassXC",
}

#: The longest name a passkey may have.
NAME_MAX_LENGTH = 64


def default_passkey_name(aaguid: str, user_agent: str) -> str:
    """What to call a new passkey: its authenticator's name, else where it was made."""
    known = KNOWN_AUTHENTICATORS.get(aaguid.lower())
    if known is not None:
        return known
    system = describe_user_agent(user_agent).os
    return f"Passkey on {system}"[:NAME_MAX_LENGTH] if system else "Passkey"
