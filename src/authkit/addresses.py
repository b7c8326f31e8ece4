"""
Email address rules: syntax checked with email-validator (no DNS lookups on the request
path), the domain lower-cased for display, and one normalized form for uniqueness.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from .errors import FieldError
from .store.models import EMAIL_MAX_LENGTH

__all__ = ["Address", "comparison_form", "normalize_email"]


@dataclass(frozen=True, slots=True)
class Address:
    #: As shown back to the user: their local part, the domain in lower case.
    email: str
    #: The comparison form: lower-cased, so Ada@X.com and ada@x.com are one account.
    normalized: str


def normalize_email(raw: str) -> Address:
    """
    Check and normalize an email address.

    Raises:
        FieldError: `required`, `too_long` or `email_invalid`, on the `email` field.
    """
    value = raw.strip()
    if not value:
        raise FieldError("required", field="email")
    if len(value) > EMAIL_MAX_LENGTH:
        raise FieldError("too_long", field="email", max=EMAIL_MAX_LENGTH)
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise FieldError("email_invalid", field="email") from None
    email = f"{checked.local_part}@{checked.ascii_domain.lower()}"
    if len(email) > EMAIL_MAX_LENGTH:
        raise FieldError("too_long", field="email", max=EMAIL_MAX_LENGTH)
    # Lower-casing the local part is not RFC-pure, but no real provider treats case as
    # significant, and one person must not hold two accounts by changing case. lower(),
    # not casefold(): "ß"/"ss", "ﬀ"/"ff" or full-width letters stay distinct addresses, so
    # no look-alike can ever match someone else's account (Django CVE-2019-19844).
    return Address(email=email, normalized=comparison_form(email))


def comparison_form(email: str) -> str:
    """The normalized form of an address already checked by `normalize_email`."""
    return unicodedata.normalize("NFC", email).lower()
