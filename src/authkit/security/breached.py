"""
The optional breached-password check (`AUTHKIT_BREACHED_PASSWORD_CHECK`): Have I Been
Pwned's k-anonymity range API. Only the first 5 hex digits of the password's SHA-1 leave
the server; the answer lists every known suffix under that prefix (padded, so its size
says nothing either) and is searched here. A password seen in a breach is refused. The
service being slow or down never blocks a sign-up: after the timeout the password is
judged by the other rules alone, and the log says so.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

import httpx

from ..errors import FieldError

__all__ = ["breach_count", "refuse_if_breached"]

logger = logging.getLogger("authkit.breached")

#: The whole round trip may take this long before the check is skipped.
TIMEOUT_SECONDS = 2.0
#: A range answer is about 30 KB (some 800 suffixes, padded): a larger one is not HIBP's.
MAX_ANSWER_BYTES = 512 * 1024


async def breach_count(password: str, *, api: str, timeout: float = TIMEOUT_SECONDS) -> int | None:
    """How many times `password` was seen in breaches (0: never), or None when the
    service could not answer in time."""
    digest = hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()
    prefix, suffix = digest[:5], digest[5:]
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.get(
                api.rstrip("/") + "/" + prefix,
                headers={"Add-Padding": "true", "User-Agent": "authkit"},
            )
        response.raise_for_status()
        body = response.content[:MAX_ANSWER_BYTES].decode("ascii", "replace")
    except (httpx.HTTPError, OSError) as exc:
        logger.warning("breached-password check skipped: %s", type(exc).__name__)
        return None
    for line in body.splitlines():
        found, _, count = line.strip().partition(":")
        # Constant time, though the suffix never leaves the server: no timing to learn.
        if hmac.compare_digest(found.upper(), suffix):
            return int(count) if count.isdigit() else 1
    return 0


async def refuse_if_breached(
    password: str, *, api: str, enabled: bool, field: str = "password"
) -> None:
    """
    Raises:
        FieldError: `password_breached` on `field`, when the check is on and the service
            knows the password from a breach.
    """
    if not enabled:
        return
    count = await breach_count(password, api=api)
    if count:
        raise FieldError("password_breached", field=field)
