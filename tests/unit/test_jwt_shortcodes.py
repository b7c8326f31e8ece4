"""
The JWT templates' shortcode grammar (Clerk's): a shortcode alone keeps its JSON type,
inside a string it interpolates as text, `||` takes the first non-null with quoted,
number and boolean literals, dot paths go into metadata (missing: null), and unknown
roots or fields stop start-up naming them. Hypothesis: any metadata renders to valid
JSON, and no value breaks out of the string it is interpolated into.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from authkit.errors import ConfigError
from authkit.jwt_templates.shortcodes import compile_claims

BOUNDED = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def context(**user: Any) -> dict[str, dict[str, Any]]:
    base: dict[str, Any] = {
        "id": "user_1",
        "first_name": "Ada",
        "last_name": None,
        "full_name": "Ada",
        "primary_email_address": "ada@example.com",
        "email_verified": True,
        "image_url": None,
        "created_at": 1700000000,
        "public_metadata": {"plan": "pro", "limits": {"notes": 10}, "tags": ["a", "b"]},
        "unsafe_metadata": {},
        "private_metadata": {"stripe": "cus_1"},
    }
    return {"user": {**base, **user}, "session": {"id": "sess_1"}}


def render(claims: dict[str, Any], **user: Any) -> dict[str, Any]:
    return compile_claims(claims, where="'t'").render(context(**user))


def test_a_shortcode_alone_keeps_its_json_type() -> None:
    assert render(
        {
            "meta": "{{user.public_metadata}}",
            "limit": "{{user.public_metadata.limits.notes}}",
            "verified": "{{user.email_verified}}",
            "created": "{{user.created_at}}",
            "last": "{{user.last_name}}",
            "tags": "{{user.public_metadata.tags}}",
        }
    ) == {
        "meta": {"plan": "pro", "limits": {"notes": 10}, "tags": ["a", "b"]},
        "limit": 10,
        "verified": True,
        "created": 1700000000,
        "last": None,
        "tags": ["a", "b"],
    }


def test_inside_a_string_it_interpolates_as_text() -> None:
    assert render(
        {
            "hello": "Hello {{user.first_name}}{{user.last_name}}!",
            "who": "{{user.id}}:{{session.id}}",
            "limits": "limits={{user.public_metadata.limits}}",
            "flag": "v={{user.email_verified}}",
        }
    ) == {
        "hello": "Hello Ada!",  # null interpolates as nothing
        "who": "user_1:sess_1",
        "limits": 'limits={"notes":10}',
        "flag": "v=true",
    }


def test_or_takes_the_first_value_that_is_not_null() -> None:
    assert render(
        {
            "plan": "{{user.public_metadata.tier || user.public_metadata.plan || 'free'}}",
            "fallback": "{{user.public_metadata.missing || 'free'}}",
            "quoted": '{{user.last_name || "a || b"}}',
            "number": "{{user.public_metadata.quota || 5}}",
            "flag": "{{user.public_metadata.beta || false}}",
            "nothing": "{{user.public_metadata.nope || null}}",
            "text": "plan: {{user.public_metadata.tier || 'basic'}}",
        }
    ) == {
        "plan": "pro",
        "fallback": "free",
        "quoted": "a || b",
        "number": 5,
        "flag": False,
        "nothing": None,
        "text": "plan: basic",
    }


def test_nested_claims_lists_and_literals_render() -> None:
    assert render(
        {
            "https://hasura.io/jwt/claims": {
                "x-hasura-user-id": "{{user.id}}",
                "x-hasura-allowed-roles": ["user", "{{user.public_metadata.plan}}"],
            },
            "n": 3,
            "b": True,
            "z": None,
            "plain": "no shortcodes",
        }
    ) == {
        "https://hasura.io/jwt/claims": {
            "x-hasura-user-id": "user_1",
            "x-hasura-allowed-roles": ["user", "pro"],
        },
        "n": 3,
        "b": True,
        "z": None,
        "plain": "no shortcodes",
    }


def test_a_path_through_a_value_that_is_not_an_object_is_null() -> None:
    assert render({"x": "{{user.public_metadata.plan.name}}"}) == {"x": None}
    assert render({"x": "{{user.public_metadata.plan}}"}, public_metadata={}) == {"x": None}


@pytest.mark.parametrize(
    ("claims", "sentence"),
    [
        ({"x": "{{user.frist_name}}"}, "unknown user field 'frist_name' in {{user.frist_name}}"),
        (
            {"x": "{{team.id}}"},
            "unknown shortcode root 'team' in {{team.id}} (the roots are org, session, user)",
        ),
        ({"x": "{{org.nam}}"}, "unknown org field 'nam' in {{org.nam}}"),
        ({"x": "{{org.slug.more}}"}, "goes into org.slug, which is not a metadata object"),
        ({"x": "{{user.id.more}}"}, "goes into user.id, which is not a metadata object"),
        ({"x": "{{user.id || }}"}, "an empty operand"),
        ({"x": "{{user id}}"}, "{{user id}} is not a shortcode"),
        ({"x": "{{'it's'}}"}, "a stray quote"),
        ({"x": "{{user.id"}, "an unclosed shortcode"),
        ({"x": "a {{user.id}} {{"}, "an unclosed shortcode"),
        ({"x": {"deep": ["{{session.nope}}"]}}, "unknown session field 'nope'"),
        ({"x": "{{user}}"}, "unknown user field ''"),
    ],
)
def test_a_template_that_does_not_compile_names_the_problem(
    claims: dict[str, Any], sentence: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        compile_claims(claims, where="'chat'")
    message = str(refused.value)
    assert message.startswith("JWT template 'chat': ") and sentence in message


def test_what_a_template_reads_is_known() -> None:
    compiled = compile_claims(
        {"a": "{{user.private_metadata.x}}", "b": "{{user.id}} {{session.id}}"}, where="'t'"
    )
    assert compiled.reads == {"user.private_metadata", "user.id", "session.id"}


JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
KEYS = st.text(alphabet="abcxyz_", min_size=1, max_size=6)


@BOUNDED
@given(metadata=st.dictionaries(KEYS, JSON_VALUES, max_size=5), key=KEYS)
def test_any_metadata_renders_to_valid_json(metadata: dict[str, Any], key: str) -> None:
    claims = {
        "all": "{{user.public_metadata}}",
        "one": f"{{{{user.public_metadata.{key}}}}}",
        "text": f"[{{{{user.public_metadata.{key} || 'none'}}}}]",
    }
    rendered = render(claims, public_metadata=metadata)
    assert json.loads(json.dumps(rendered, allow_nan=False)) == rendered
    assert rendered["all"] == metadata and rendered["one"] == metadata.get(key)


@BOUNDED
@given(value=st.text())
def test_interpolation_never_breaks_out_of_its_string(value: str) -> None:
    """Quotes, backslashes, braces and newlines in a user's value stay inside the claim."""
    rendered = render(
        {"greeting": 'Hi "{{user.unsafe_metadata.nick}}"', "role": "user"},
        unsafe_metadata={"nick": value},
    )
    encoded = json.dumps(rendered)
    assert json.loads(encoded) == {"greeting": f'Hi "{value}"', "role": "user"}
