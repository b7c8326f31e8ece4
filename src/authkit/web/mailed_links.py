"""
How a mailed one-time link (a password reset, a magic sign-in link) hands its token over.

The link carries the token in its fragment (`/reset-password?link=1#token=...`,
`/sign-in/link#token=...`): browsers never send a fragment, so the token is in no request
line that uvicorn's access log, a proxy or an APM agent writes. The page the link lands
on has a hidden form (`elements/link_handoff.html`) that authkit.js fills from the
fragment, after taking the fragment out of the address bar and history, and posts. With
JavaScript off the same page asks for the link to be pasted. Both post the field `link`;
the endpoint then goes on as it always did (the token moves into a path-scoped HttpOnly
cookie and the browser is sent to a clean URL).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from wtforms import Form

from ..errors import FieldError

__all__ = ["is_handoff", "token_of"]

#: What our link tokens look like (secrets.token_urlsafe); anything else is not one.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,200}")
#: Mail clients and people wrap a pasted link in these.
WRAPPERS = " \t\r\n<>\"'"


def is_handoff(form: Form) -> bool:
    """The post hands over a mailed link (it has the field `link`, even empty), rather
    than submitting the page's own form."""
    field = getattr(form, "link", None)
    return bool(field is not None and field.raw_data)


def token_of(value: str) -> str:
    """
    The token in a posted `link`: the bare token (what authkit.js sends), or the whole
    link as pasted, with the token in its fragment or, in a link mailed before tokens
    moved to the fragment, in its query string.

    Raises:
        FieldError: `link_paste_invalid` (link): nothing that looks like a token.
    """
    value = value.strip(WRAPPERS)
    if TOKEN_SHAPE.fullmatch(value):
        return value
    parts = urlsplit(value)
    for part in (parts.fragment, parts.query):
        for token in parse_qs(part).get("token", []):
            if TOKEN_SHAPE.fullmatch(token.strip()):
                return token.strip()
    raise FieldError("link_paste_invalid", field="link")
