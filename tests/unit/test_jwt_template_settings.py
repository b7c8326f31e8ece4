"""
JWT templates as configured: from a mapping, a TOML file or a JSON file; each mistake
stops start-up with one sentence naming the template and what is wrong (an unknown
preset or setting, a reserved claim, a lifetime out of range, a preset without the key
it needs, a key of the wrong kind or too short a secret).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from authkit import AuthKit
from authkit.errors import ConfigError
from authkit.jwt_templates import load_templates

from ..conftest import TEST_SECRET

SECRET = "s" * 40


def pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_templates_from_a_mapping_a_toml_file_and_a_json_file(tmp_path: Path) -> None:
    toml = tmp_path / "templates.toml"
    toml.write_text(
        '[hasura]\npreset = "hasura"\n'
        "[chat]\nlifetime = 300\nallowed_clock_skew = 10\n"
        'claims = { plan = "{{user.public_metadata.plan || \'free\'}}", aud = "chat" }\n'
    )
    from_toml = load_templates(str(toml))
    assert sorted(from_toml) == ["chat", "hasura"]
    assert (from_toml["chat"].lifetime, from_toml["chat"].allowed_clock_skew) == (300, 10)
    assert from_toml["hasura"].key is None  # our EdDSA key, through the JWKS
    as_json = tmp_path / "templates.json"
    as_json.write_text(json.dumps({"chat": {"claims": {"aud": "chat"}}}))
    assert list(load_templates(str(as_json))) == ["chat"]
    assert list(load_templates({"x": {}})) == ["x"]
    assert load_templates(None) == {}


def test_authkit_stops_at_start_up_on_a_bad_template() -> None:
    with pytest.raises(ConfigError, match="unknown user field 'frist_name'"):
        AuthKit(
            secret_key=TEST_SECRET,
            jwt_templates={"chat": {"claims": {"name": "{{user.frist_name}}"}}},
        )


@pytest.mark.parametrize(
    ("templates", "sentence"),
    [
        (
            {"x": {"preset": "auth0"}},
            "unknown preset 'auth0' (the presets are convex, firebase, grafbase, hasura, "
            "nhost, supabase)",
        ),
        ({"x": {"lifetme": 60}}, "unknown setting 'lifetme'"),
        (
            {"x": {"claims": {"sub": "me"}}},
            "the claim 'sub' is set by authkit and cannot be overridden",
        ),
        ({"x": {"claims": {"sid": "{{session.id}}"}}}, "the claim 'sid' is set by authkit"),
        ({"x": {"lifetime": 0}}, "lifetime must be a whole number from 1 to 86400"),
        ({"x": {"lifetime": "60"}}, "lifetime must be a whole number"),
        (
            {"x": {"allowed_clock_skew": 3600}},
            "allowed_clock_skew must be a whole number from 0 to 300",
        ),
        (
            {"x": {"preset": "supabase"}},
            "the supabase preset needs a signing_key (HS256 or HS384 or HS512)",
        ),
        ({"x": {"algorithm": "RS256"}}, "algorithm RS256 needs a signing_key"),
        ({"Bad Name": {}}, "a name is lowercase letters"),
        ({"x": {"claims": ["a"]}}, "claims must be a table"),
        ({"x": "hasura"}, "must be a table of settings"),
        (
            {"x": {"signing_key": "env:NOT_SET_ANYWHERE"}},
            "the variable NOT_SET_ANYWHERE is not set",
        ),
        (
            {"x": {"signing_key": "/no/such/key.pem"}},
            "cannot read the signing key '/no/such/key.pem'",
        ),
    ],
)
def test_each_mistake_is_one_sentence_naming_it(templates: dict[str, Any], sentence: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_templates(templates, environ={})
    assert sentence in str(refused.value), str(refused.value)
    assert str(refused.value).startswith(("JWT template '", "AUTHKIT_JWT_TEMPLATES"))


def test_signing_keys_by_kind(tmp_path: Path) -> None:
    environ = {
        "SHORT": "too short",
        "SECRET": SECRET,
        "RSA": pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "EC": pem(ec.generate_private_key(ec.SECP256R1())),
        "ED": pem(ed25519.Ed25519PrivateKey.generate()),
        "P384": pem(ec.generate_private_key(ec.SECP384R1())),
    }

    def key_of(**settings: Any) -> Any:
        return load_templates({"t": settings}, environ=environ)["t"].key

    assert key_of(signing_key="env:SECRET").algorithm == "HS256"
    assert key_of(signing_key="env:SECRET", algorithm="HS512").algorithm == "HS512"
    assert key_of(signing_key="env:RSA").algorithm == "RS256"
    es = key_of(signing_key="env:EC")
    assert es.algorithm == "ES256" and es.public_jwk["kid"] == es.kid and "d" not in es.public_jwk
    assert key_of(signing_key="env:ED").algorithm == "EdDSA"
    for settings, sentence in [
        ({"signing_key": "env:SHORT"}, "must be at least 32 bytes"),
        ({"signing_key": "env:SECRET", "algorithm": "RS256"}, "a secret signs HS256, HS384, HS512"),
        ({"signing_key": "env:EC", "algorithm": "RS256"}, "this key signs ES256, not RS256"),
        ({"signing_key": "env:P384"}, "must be RSA, EC P-256 or Ed25519"),
        ({"preset": "convex", "signing_key": "env:ED"}, "convex verifies RS256 or ES256"),
        (
            {"preset": "supabase", "signing_key": "env:RSA"},
            "supabase verifies HS256 or HS384 or HS512",
        ),
        ({"preset": "firebase", "signing_key": "env:RSA"}, "a service account's JSON key file"),
    ]:
        with pytest.raises(ConfigError) as refused:
            key_of(**settings)
        assert sentence in str(refused.value), str(refused.value)
    account = tmp_path / "service-account.json"
    account.write_text(
        json.dumps(
            {"private_key": environ["RSA"], "client_email": "sa@proj.iam.gserviceaccount.com"}
        )
    )
    firebase = load_templates({"fb": {"preset": "firebase", "signing_key": str(account)}})["fb"]
    assert firebase.fixed["iss"] == firebase.fixed["sub"] == "sa@proj.iam.gserviceaccount.com"
    with pytest.raises(ConfigError, match="at most 3600 seconds"):
        load_templates(
            {"fb": {"preset": "firebase", "signing_key": str(account), "lifetime": 7200}}
        )


def test_files_that_are_not_what_they_should_be(tmp_path: Path) -> None:
    binary = tmp_path / "key.der"
    binary.write_bytes(b"\x30\x82\xff\xfe\x00")
    with pytest.raises(ConfigError, match="is not text"):
        load_templates({"t": {"signing_key": str(binary)}})
    array = tmp_path / "templates.json"
    array.write_text("[1, 2]")
    with pytest.raises(ConfigError, match=r"must hold a table \(a JSON object\)"):
        load_templates(str(array))


def test_a_secret_files_final_newline_is_not_part_of_the_secret(tmp_path: Path) -> None:
    import jwt

    secret = tmp_path / "supabase.secret"
    secret.write_text(SECRET + "\n")
    key = load_templates({"t": {"signing_key": str(secret)}})["t"].key
    token = key.sign({"sub": "user_1"})
    assert jwt.decode(token, SECRET, algorithms=["HS256"]) == {"sub": "user_1"}


def test_a_firebase_token_names_the_service_accounts_own_key_id(tmp_path: Path) -> None:
    account = tmp_path / "service-account.json"
    account.write_text(
        json.dumps(
            {
                "private_key": pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
                "client_email": "sa@proj.iam.gserviceaccount.com",
                "private_key_id": "0123abcd",
            }
        )
    )
    key = load_templates({"fb": {"preset": "firebase", "signing_key": str(account)}})["fb"].key
    assert key.kid == "0123abcd" and key.public_jwk is None  # Google publishes it, not us
