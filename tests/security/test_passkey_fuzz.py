"""
Passkey answers with hostile bytes (SECURITY.md #68): any JSON where a credential
should be, and a real assertion or registration with one member replaced by random
base64url, random CBOR or random JSON, is refused with `PasskeyFailed`, never another
exception (which would be a 500). The checks are pure functions of their input, so
hypothesis drives them directly; the web tests cover the same answers over HTTP.
"""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authkit.flows.passkeys import (
    PasskeyFailed,
    check_assertion,
    check_registration,
    parse_assertion,
)

from ..soft_authenticator import SoftAuthenticator, b64url

BOUNDED = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ORIGIN = "https://example.com"
RP_ID = "example.com"
CHALLENGE = b64url(b"c" * 32)
OPTIONS = {
    "challenge": CHALLENGE,
    "rp": {"id": RP_ID, "name": "Example"},
    "user": {"id": b64url(b"user_1"), "name": "a@example.com", "displayName": "A"},
    "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
}

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
CBOR_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.binary(max_size=80)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.integers(-5, 5) | st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
#: What can stand where base64url bytes should: random bytes, CBOR, JSON, or not base64.
HOSTILE_MEMBERS = st.one_of(
    st.binary(max_size=300).map(b64url),
    CBOR_VALUES.map(lambda v: b64url(cbor2.dumps(v))),
    JSON_VALUES.map(lambda v: b64url(json.dumps(v).encode())),
    st.text(max_size=60),
    JSON_VALUES,
)


def _registration() -> tuple[SoftAuthenticator, dict[str, Any]]:
    authenticator = SoftAuthenticator(origin=ORIGIN)
    return authenticator, authenticator.create(OPTIONS)


def _replace(credential: dict[str, Any], member: str, value: Any) -> dict[str, Any]:
    copy = {**credential, "response": dict(credential["response"])}
    if member in copy["response"]:
        copy["response"][member] = value
    else:
        copy[member] = value
    return copy


def _judge_assertion(credential: Any, public_key: bytes) -> None:
    parsed = parse_assertion(credential)
    check_assertion(parsed, challenge=CHALLENGE, rp_id=RP_ID, origin=ORIGIN, public_key=public_key)


def test_the_untouched_answers_pass() -> None:
    """The baseline the fuzzing bends: an honest registration and assertion pass."""
    authenticator, created = _registration()
    verified, transports = check_registration(
        created, challenge=CHALLENGE, rp_id=RP_ID, origin=ORIGIN
    )
    assert transports == ["internal", "hybrid"]
    asserted = authenticator.get({"challenge": CHALLENGE, "rpId": RP_ID, "allowCredentials": []})
    _judge_assertion(asserted, verified.credential_public_key)


@BOUNDED
@given(credential=JSON_VALUES)
def test_any_json_as_an_assertion_is_refused(credential: Any) -> None:
    """#68: whatever JSON is posted as the credential, the answer is a refusal."""
    with pytest.raises(PasskeyFailed):
        _judge_assertion(credential if isinstance(credential, dict) else {"x": credential}, b"")


@BOUNDED
@given(
    member=st.sampled_from(
        [
            "clientDataJSON",
            "authenticatorData",
            "signature",
            "userHandle",
            "rawId",
            "id",
            "type",
            "response",
        ]
    ),
    value=HOSTILE_MEMBERS,
)
def test_an_assertion_with_a_hostile_member_is_refused(member: str, value: Any) -> None:
    """#68: malformed CBOR, clientDataJSON or base64url in an assertion → refused."""
    authenticator, created = _registration()
    verified, _ = check_registration(created, challenge=CHALLENGE, rp_id=RP_ID, origin=ORIGIN)
    asserted = authenticator.get({"challenge": CHALLENGE, "rpId": RP_ID, "allowCredentials": []})
    bent = _replace(asserted, member, value)
    if bent == asserted or member in ("userHandle", "id"):
        # Members the signature does not cover: the caller judges them (the user handle
        # against the passkey's owner, the id against the stored credential).
        with contextlib.suppress(PasskeyFailed):
            _judge_assertion(bent, verified.credential_public_key)
        return
    with pytest.raises(PasskeyFailed):
        _judge_assertion(bent, verified.credential_public_key)


@BOUNDED
@given(
    member=st.sampled_from(
        ["clientDataJSON", "attestationObject", "rawId", "type", "response", "transports"]
    ),
    value=HOSTILE_MEMBERS,
)
def test_a_registration_with_a_hostile_member_is_refused(member: str, value: Any) -> None:
    """#68: malformed CBOR or JSON in a new credential → refused, never a crash."""
    _, created = _registration()
    bent = _replace(created, member, value)
    if member in ("transports", "rawId"):
        # Not covered by the attestation: refused or kept, but never a crash.
        with contextlib.suppress(PasskeyFailed):
            check_registration(bent, challenge=CHALLENGE, rp_id=RP_ID, origin=ORIGIN)
        return
    with pytest.raises(PasskeyFailed):
        check_registration(bent, challenge=CHALLENGE, rp_id=RP_ID, origin=ORIGIN)


def test_padding_and_alphabet_variants_of_base64_are_not_a_crash() -> None:
    """Standard base64 with padding where base64url is expected: parsed or refused."""
    authenticator, created = _registration()
    verified, _ = check_registration(created, challenge=CHALLENGE, rp_id=RP_ID, origin=ORIGIN)
    asserted = authenticator.get({"challenge": CHALLENGE, "rpId": RP_ID, "allowCredentials": []})
    raw = base64.urlsafe_b64decode(asserted["response"]["signature"] + "==")
    padded = _replace(asserted, "signature", base64.b64encode(raw).decode())
    with contextlib.suppress(PasskeyFailed):
        _judge_assertion(padded, verified.credential_public_key)
