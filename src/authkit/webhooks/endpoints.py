"""
The webhook endpoints (`AUTHKIT_WEBHOOKS`): a list of `{url, secret, events}`, given as a
list, as inline JSON, or as the path of a .toml file (`[[webhooks]]` tables) or .json file
(a `"webhooks"` array). Every mistake is one sentence naming the endpoint and what to change.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..config_files import read_table
from ..errors import ConfigError
from ..hosts import is_loopback_host

__all__ = ["EVENT_TYPES", "Endpoint", "load_endpoints", "new_secret"]

SETTING = "AUTHKIT_WEBHOOKS"
#: Every event a site can hear of (Clerk's names).
EVENT_TYPES = frozenset(
    {
        "user.created",
        "user.updated",
        "user.deleted",
        "session.created",
        "session.ended",
        "session.revoked",
        "email.created",
        "organization.created",
        "organization.updated",
        "organization.deleted",
        "organizationMembership.created",
        "organizationMembership.updated",
        "organizationMembership.deleted",
        "organizationInvitation.created",
        "organizationInvitation.accepted",
        "organizationInvitation.revoked",
    }
)
SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix, not a secret)
#: Standard Webhooks asks for 24 to 64 random bytes.
MIN_SECRET_BYTES = 24
MAX_URL_LENGTH = 2048
_KEYS = ("url", "secret", "events")


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str
    #: The `whsec_...` signing secret.
    secret: str
    #: The event types it receives (all of them unless the endpoint names some).
    events: frozenset[str]

    @property
    def key(self) -> str:
        """A short stable name for the URL (the delivery order is kept per endpoint)."""
        return hashlib.sha256(self.url.encode()).hexdigest()[:16]


def new_secret() -> str:
    """A new signing secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def load_endpoints(value: Sequence[Mapping[str, Any]] | str | None) -> tuple[Endpoint, ...]:
    """
    The endpoints of the setting's value (None or "": none).

    Raises:
        ConfigError: the value does not parse, or an endpoint is wrong.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return ()
    items = _items(value)
    endpoints = tuple(_endpoint(item, number) for number, item in enumerate(items, 1))
    urls = [e.url for e in endpoints]
    for url in urls:
        if urls.count(url) > 1:
            raise ConfigError(f"{SETTING} lists {url} twice: give each endpoint once.")
    return endpoints


def _items(value: Sequence[Mapping[str, Any]] | str) -> Sequence[Any]:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            loaded = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{SETTING} is not valid JSON: {exc}.") from None
        assert isinstance(loaded, list)
        return loaded
    table = read_table(text, setting=SETTING)
    found = table.get("webhooks")
    if not isinstance(found, list):
        raise ConfigError(
            f"{SETTING}: {text!r} must hold a list of endpoints under `webhooks` "
            '([[webhooks]] tables in TOML, a "webhooks" array in JSON).'
        )
    return found


def _endpoint(item: Any, number: int) -> Endpoint:
    where = f"{SETTING}, endpoint {number}"
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where}: must be a table with url, secret and events.")
    for key in item:
        if key not in _KEYS:
            close = difflib.get_close_matches(str(key), _KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{where}: unknown key {key!r}{hint}; the keys are url, secret, events."
            )
    url = _url(item.get("url"), where)
    secret = _secret(item.get("secret"), f"{SETTING}, endpoint {url}")
    events = _events(item.get("events"), f"{SETTING}, endpoint {url}")
    return Endpoint(url, secret, events)


def _url(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: `url` is missing.")
    if len(value) > MAX_URL_LENGTH:
        raise ConfigError(f"{where}: `url` is longer than {MAX_URL_LENGTH} characters.")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: `url` must be an http(s) URL, not {value!r}.")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"{where}: {value} must use https (plain http only to localhost): the events "
            "carry your users' data."
        )
    return value


def _secret(value: Any, where: str) -> str:
    make = "make one with `authkit webhooks secret`"
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: `secret` is missing; {make}.")
    if not value.startswith(SECRET_PREFIX):
        raise ConfigError(f"{where}: `secret` must start with {SECRET_PREFIX!r}; {make}.")
    try:
        raw = base64.b64decode(value[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(
            f"{where}: `secret` is not base64 after {SECRET_PREFIX!r}; {make}."
        ) from None
    if len(raw) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"{where}: `secret` holds {len(raw)} bytes, fewer than {MIN_SECRET_BYTES}; {make}."
        )
    return value


def _events(value: Any, where: str) -> frozenset[str]:
    if value is None:
        return EVENT_TYPES
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise ConfigError(f"{where}: `events` must be a list of event types (or left out: all).")
    for event in value:
        if event not in EVENT_TYPES:
            close = difflib.get_close_matches(str(event), sorted(EVENT_TYPES), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(sorted(EVENT_TYPES))
            raise ConfigError(f"{where}: unknown event {event!r}{hint}; the events are {known}.")
    return frozenset(value)
