"""The soft authenticator's answers pass py_webauthn's checks, and its forged ones fail them:
web tests of the passkey endpoints rely on both."""

from __future__ import annotations

import json
from typing import Any

import pytest
import webauthn
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidRegistrationResponse,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

from ..soft_authenticator import SoftAuthenticator, b64url, unb64url

ORIGIN = "http://localhost:8000"


def registration_options(exclude: list[bytes] | None = None) -> dict[str, Any]:
    """Registration options as an endpoint would send them, in JSON form."""
    options = webauthn.generate_registration_options(
        rp_id="localhost",
        rp_name="x",
        user_name="a@example.com",
        user_id=b"user_1",
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=i) for i in exclude or []],
    )
    loaded: dict[str, Any] = json.loads(webauthn.options_to_json(options))
    return loaded


def authentication_options(allow: list[bytes] | None = None) -> dict[str, Any]:
    """Authentication options in JSON form; no allow list means a discoverable request."""
    options = webauthn.generate_authentication_options(
        rp_id="localhost",
        allow_credentials=[PublicKeyCredentialDescriptor(id=i) for i in allow or []],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    loaded: dict[str, Any] = json.loads(webauthn.options_to_json(options))
    return loaded


def verify_registration(
    credential: dict[str, Any], options: dict[str, Any]
) -> VerifiedRegistration:
    return webauthn.verify_registration_response(
        credential=credential,
        expected_challenge=unb64url(options["challenge"]),
        expected_rp_id="localhost",
        expected_origin=ORIGIN,
        require_user_verification=True,
    )


def register(authenticator: SoftAuthenticator) -> tuple[bytes, bytes]:
    """Register one passkey; its id and COSE public key, as the server would store them."""
    options = registration_options()
    verified = verify_registration(authenticator.create(options), options)
    return verified.credential_id, verified.credential_public_key


def verify_authentication(
    credential: dict[str, Any], options: dict[str, Any], public_key: bytes, current: int = 0
) -> VerifiedAuthentication:
    return webauthn.verify_authentication_response(
        credential=credential,
        expected_challenge=unb64url(options["challenge"]),
        expected_rp_id="localhost",
        expected_origin=ORIGIN,
        credential_public_key=public_key,
        credential_current_sign_count=current,
        require_user_verification=True,
    )


def test_b64url_has_no_padding_and_round_trips() -> None:
    for data in (b"", b"a", b"ab", b"abc", bytes(range(256))):
        text = b64url(data)
        assert "=" not in text and "+" not in text and "/" not in text
        assert unb64url(text) == data
    assert unb64url("YQ==") == b"a"


def test_registration_then_authentication_verify() -> None:
    authenticator = SoftAuthenticator(origin=ORIGIN)
    options = registration_options()
    credential = authenticator.create(options)

    assert credential["type"] == "public-key"
    assert credential["id"] == credential["rawId"]
    assert credential["authenticatorAttachment"] == "platform"
    assert credential["response"]["transports"] == ["internal", "hybrid"]
    client_data = json.loads(unb64url(credential["response"]["clientDataJSON"]))
    assert client_data == {
        "type": "webauthn.create",
        "challenge": options["challenge"],
        "origin": ORIGIN,
        "crossOrigin": False,
    }

    verified = verify_registration(credential, options)
    assert verified.credential_id == unb64url(credential["id"])
    assert verified.fmt == "none"
    assert verified.user_verified is True
    assert verified.sign_count == 0
    assert verified.aaguid == "00000000-0000-0000-0000-000000000000"
    stored = authenticator.credentials[verified.credential_id]
    assert stored.rp_id == "localhost" and stored.user_handle == b"user_1"

    login = authentication_options(allow=[verified.credential_id])
    assertion = authenticator.get(login)
    assert unb64url(assertion["response"]["userHandle"]) == b"user_1"
    result = verify_authentication(assertion, login, verified.credential_public_key)
    assert result.new_sign_count == 1
    assert result.user_verified is True

    again = authentication_options(allow=[verified.credential_id])
    result = verify_authentication(
        authenticator.get(again), again, verified.credential_public_key, current=1
    )
    assert result.new_sign_count == 2


def test_wrapped_options_and_discoverable_request() -> None:
    authenticator = SoftAuthenticator(origin=ORIGIN)
    options = registration_options()
    verified = verify_registration(authenticator.create({"publicKey": options}), options)

    login = authentication_options()
    assert login.get("allowCredentials", []) == []
    assertion = authenticator.get({"publicKey": login})
    assert unb64url(assertion["rawId"]) == verified.credential_id
    verify_authentication(assertion, login, verified.credential_public_key)


def test_synced_passkey_keeps_a_zero_counter_and_backup_flags() -> None:
    authenticator = SoftAuthenticator(
        origin=ORIGIN, backup_eligible=True, backed_up=True, counts=False
    )
    options = registration_options()
    verified = verify_registration(authenticator.create(options), options)
    assert verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    assert verified.credential_backed_up is True

    login = authentication_options()
    result = verify_authentication(authenticator.get(login), login, verified.credential_public_key)
    assert result.new_sign_count == 0
    assert authenticator.credentials[verified.credential_id].sign_count == 0


@pytest.mark.parametrize(
    "override",
    [{"origin": "http://evil.example:8000"}, {"rp_id": "evil.example"}, {"user_verified": False}],
)
def test_forged_registration_is_refused(override: dict[str, Any]) -> None:
    authenticator = SoftAuthenticator(origin=ORIGIN)
    options = registration_options()
    with pytest.raises(InvalidRegistrationResponse):
        verify_registration(authenticator.create(options, **override), options)


@pytest.mark.parametrize(
    "override",
    [
        {"origin": "http://evil.example:8000"},
        {"rp_id": "evil.example"},
        {"user_verified": False},
        {"challenge": b64url(b"another challenge")},
    ],
)
def test_forged_assertion_is_refused(override: dict[str, Any]) -> None:
    authenticator = SoftAuthenticator(origin=ORIGIN)
    credential_id, public_key = register(authenticator)
    login = authentication_options(allow=[credential_id])
    with pytest.raises(InvalidAuthenticationResponse):
        verify_authentication(authenticator.get(login, **override), login, public_key)


def test_a_lower_counter_is_refused() -> None:
    authenticator = SoftAuthenticator(origin=ORIGIN)
    credential_id, public_key = register(authenticator)
    login = authentication_options(allow=[credential_id])
    with pytest.raises(InvalidAuthenticationResponse):
        verify_authentication(authenticator.get(login, sign_count=3), login, public_key, current=5)


def test_a_key_from_another_credential_does_not_verify() -> None:
    authenticator = SoftAuthenticator(origin=ORIGIN)
    first_id, first_key = register(authenticator)
    second_id, _ = register(authenticator)
    login = authentication_options(allow=[first_id, second_id])
    assertion = authenticator.get(login, credential_id=second_id)
    assert unb64url(assertion["id"]) == second_id
    with pytest.raises(InvalidAuthenticationResponse):
        verify_authentication(assertion, login, first_key)


def test_user_handle_override() -> None:
    authenticator = SoftAuthenticator(origin=ORIGIN)
    credential_id, _ = register(authenticator)
    assertion = authenticator.get(authentication_options(), user_handle=b"user_2")
    assert unb64url(assertion["response"]["userHandle"]) == b"user_2"
    assert authenticator.credentials[credential_id].user_handle == b"user_1"


def test_excluded_credential_is_refused() -> None:
    authenticator = SoftAuthenticator(origin=ORIGIN)
    credential_id, _ = register(authenticator)
    with pytest.raises(ValueError, match="InvalidStateError"):
        authenticator.create(registration_options(exclude=[credential_id]))
    # Someone else's excluded credential does not stop a new registration.
    other = SoftAuthenticator(origin=ORIGIN)
    other.create(registration_options(exclude=[credential_id]))
    assert len(other.credentials) == 1


def test_no_matching_credential_is_refused() -> None:
    authenticator = SoftAuthenticator(origin=ORIGIN)
    with pytest.raises(ValueError, match="NotAllowedError"):
        authenticator.get(authentication_options())
    register(authenticator)
    with pytest.raises(ValueError, match="NotAllowedError"):
        authenticator.get(authentication_options(allow=[b"not ours"]))
