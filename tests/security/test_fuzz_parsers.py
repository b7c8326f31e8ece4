"""
Property tests (hypothesis) for the parsers that read attacker-controlled input before
anything else does (SECURITY.md §6 "hypothesis", #3, #42, #21): email normalisation,
the Cookie header, signed session tokens with hostile contents, the client-IP logic and
the CSRF check. Each may refuse, never crash with an unexpected exception (a 500 and,
for a parser, often an oracle). Kept synchronous: hypothesis drives plain functions.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import string
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from authkit.addresses import normalize_email
from authkit.cookies import (
    CSRF_COOKIE,
    MAX_COOKIE_HEADER,
    REFRESH_COOKIE,
    SESSION_COOKIE,
    CookieMemo,
    RequestCookies,
    cookie_names,
    one_cookie,
    parse_cookies,
)
from authkit.errors import FieldError, TokenError
from authkit.security.client_ip import TrustedProxies
from authkit.security.csrf import CsrfGuard
from authkit.security.tokens import REQUIRED_CLAIMS, KeyRing, SessionClaims, new_signing_key_row

from ..conftest import TEST_SECRET

BOUNDED = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2026, 1, 1, tzinfo=UTC)
ISSUER = "http://testserver/auth"

# -- email addresses ---------------------------------------------------------------------

LOCAL_CHARS = string.ascii_letters + string.digits + ".!#$%&'*+/=?^_`{|}~-" + "éßıİǅﬀａΣς"
DOMAIN_LABEL = st.text(
    alphabet=string.ascii_letters + string.digits + "-" + "éüßıａ", min_size=1, max_size=20
)
PLAUSIBLE_EMAILS = st.builds(
    lambda local, labels, tld, space: f"{space}{local}@{'.'.join(labels)}.{tld}{space}",
    st.text(alphabet=LOCAL_CHARS, min_size=1, max_size=70),
    st.lists(DOMAIN_LABEL, min_size=1, max_size=4),
    st.sampled_from(["com", "org", "COM", "io", "xn--p1ai", "рф", "museum"]),
    st.sampled_from(["", " ", "\t", "\n"]),
)
ANY_EMAIL_INPUT = st.one_of(st.text(max_size=300), st.emails(), PLAUSIBLE_EMAILS)


@BOUNDED
@given(ANY_EMAIL_INPUT)
@example("A@Example.COM")
@example("İ" * 120 + "@example.com")  # lower() makes 2 code points of each
@example("a@b@c")
@example("x@y.com\r\nBcc: z@evil.example")
@example("\x00@example.com")
def test_normalize_email_raises_only_field_error(raw: str) -> None:
    """Email parsing (#3): any input is an address or a FieldError on the email field."""
    try:
        address = normalize_email(raw)
    except FieldError as error:
        assert error.field == "email"
        return
    assert "\r" not in address.email and "\n" not in address.email
    assert "\x00" not in address.email
    assert len(address.email) <= 254


@BOUNDED
@given(ANY_EMAIL_INPUT)
@example("A@Example.COM")
@example("Straße@Example.com")
@example("ǅ@example.com")
def test_normalize_email_is_idempotent_on_its_output(raw: str) -> None:
    """Account identity (#1, #2, #22): normalising a normalised address changes nothing."""
    try:
        address = normalize_email(raw)
    except FieldError:
        return
    again = normalize_email(address.email)
    assert again == address, (raw, address, again)


# -- the Cookie header -----------------------------------------------------------------------


@BOUNDED
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.text(max_size=2000).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.lists(st.tuples(st.text(max_size=30), st.text(max_size=60)), max_size=20).map(
            lambda pairs: "; ".join(f"{k}={v}" for k, v in pairs).encode("utf-8", "replace")
        ),
        st.integers(MAX_COOKIE_HEADER - 5, MAX_COOKIE_HEADER + 5).map(lambda n: b"a=" + b"x" * n),
    )
)
@example(b"__session=a; __session=b")
@example(b'__session="\\"; =; ;;; =x; \xff\xfe=\x00')
def test_parse_cookies_never_raises(raw: bytes) -> None:
    """Cookie parsing (#42): any Cookie header bytes give a str→str mapping, never an error."""
    cookies = parse_cookies(raw)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in cookies.items())
    if len(raw) > MAX_COOKIE_HEADER:
        assert dict(cookies) == {}


#: Every name authkit reads with one_cookie on a request: on plain http and on https.
OUR_NAMES = sorted(
    {
        getattr(cookie_names(https=https), kind)
        for https in (False, True)
        for kind in ("session", "refresh", "csrf")
    }
    | {cookie_names(https=True).of("__ak_sign_in")}
)
#: Cookie headers built from the pieces that decide how a name is read: separators, the
#: whitespace str.strip() removes (ASCII and latin-1's \x1c-\x1f, \x85, \xa0), quotes,
#: names that contain ours, and nameless cookies.
COOKIE_PIECES = st.one_of(
    st.sampled_from(
        [
            *(SESSION_COOKIE, REFRESH_COOKIE, "=", ";", "; ", " ", "\t", "\x1c", "\x85", "\xa0"),
            *('"', f"{SESSION_COOKIE}=", f"x{SESSION_COOKIE}", f"{SESSION_COOKIE}x", "tossed"),
            *("__Host-session", "__Host-session=", "__Host-", CSRF_COOKIE, "  ", ";  "),
        ]
    ),
    st.text(alphabet=st.characters(max_codepoint=255), max_size=6),
)
TRICKY_COOKIE_HEADERS = st.lists(COOKIE_PIECES, max_size=14).map(
    lambda pieces: "".join(pieces).encode("latin-1")
)
#: Many mentions of one name: past one_cookie's first few, it counts them in bulk.
CROWDED_COOKIE_HEADERS = st.lists(
    st.one_of(
        st.sampled_from([SESSION_COOKIE, f"{SESSION_COOKIE}=", f"; {SESSION_COOKIE}="]),
        COOKIE_PIECES,
    ),
    min_size=10,
    max_size=60,
).map(lambda pieces: "".join(pieces).encode("latin-1"))


@BOUNDED
@given(TRICKY_COOKIE_HEADERS | st.binary(max_size=300))
@example(b"__session=a;__session=b;tossed")
@example(b"__session=a; __session=b; tossed")
@example(b' __session\xa0= "v" ;x=__session=1')
@example(b"a=__session=1; __session =\x1cv\x85")
@example(b"x=1; __session=v\xa0")
@example(b'__session="v"')
@example(b"__session __session __session __session __session=1")
@example(b"__session;__session;__session;__session; \x85__session \xa0= v ;x=__session")
@example(b"__ses sion=1;__session;__session;__session;__session;__ses  sion=2")
@example(b";;__session=a;  __session  =b;__session")
def test_one_cookie_reads_exactly_what_parse_cookies_reads(raw: bytes) -> None:
    """The session check's reader (one_cookie, and its memo) and the full parser agree
    on every header, duplicates included (#42): no header is read one way by the
    middleware and another by the CSRF check."""
    cookies = parse_cookies(raw)
    lazily = RequestCookies(raw)
    for name in OUR_NAMES:
        memo = CookieMemo(name)
        assert one_cookie(raw, name) == memo[raw] == memo[raw] == cookies.get(name), name
        assert lazily.get(name) == cookies.get(name), name
    assert dict(lazily) == dict(cookies)


@BOUNDED
@given(CROWDED_COOKIE_HEADERS)
def test_one_cookie_agrees_with_parse_cookies_on_crowded_headers(raw: bytes) -> None:
    """The same past one_cookie's first few mentions of a name, where it stops looking at
    them one by one and counts the chunks named so in bulk (the flooding defence)."""
    cookies = parse_cookies(raw)
    for name in OUR_NAMES:
        assert one_cookie(raw, name) == cookies.get(name), name


# -- session tokens signed with our own key, hostile contents -----------------------------

_ROW = new_signing_key_row(TEST_SECRET, NOW)
_RING = KeyRing(issuer=ISSUER, secret_key=TEST_SECRET)
_RING.load([_ROW], NOW)

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
GOOD_CLAIMS = {
    "iss": ISSUER,
    "sub": "user_a",
    "sid": "sess_a",
    "iat": int(NOW.timestamp()),
    "nbf": int(NOW.timestamp()),
    "exp": int(NOW.timestamp()) + 60,
}


@BOUNDED
@given(
    st.dictionaries(
        st.sampled_from([*REQUIRED_CLAIMS, "aud", "jti", "azp"]), JSON_VALUES, max_size=6
    ),
    st.lists(st.sampled_from(REQUIRED_CLAIMS), max_size=2),
    st.dictionaries(st.sampled_from(["typ", "crit", "cty", "b64", "zip"]), JSON_VALUES, max_size=2),
)
@example(changes={}, dropped=[], header={"b64": False, "crit": None})
@example(changes={}, dropped=[], header={"crit": ["exp"]})
def test_session_token_with_hostile_contents_raises_only_token_error(
    changes: dict[str, Any], dropped: list[str], header: dict[str, Any]
) -> None:
    """JWT claim confusion (#42, #51, #52): odd claims signed by our key raise only TokenError."""
    claims: dict[str, Any] = {**GOOD_CLAIMS, **changes}
    for name in dropped:
        claims.pop(name, None)
    try:
        token = _RING.mint(claims, headers={k: v for k, v in header.items()})
    except (TypeError, ValueError, OverflowError):
        return  # not encodable: no such token can exist
    except jwt.InvalidTokenError:
        # PyJWT refuses to write some headers (a `crit` that is not a list); an attacker
        # holding our key is not bound by that, so sign it by hand.
        token = _signed_by_hand(claims, {**header, "alg": "EdDSA", "typ": "JWT"})
    try:
        verified = _RING.verify_session_token(token, now_timestamp=NOW.timestamp())
    except TokenError:
        return
    # Accepted: then it must be a well-formed session of the expected shape.
    assert isinstance(verified, SessionClaims)
    assert isinstance(verified.user_id, str) and verified.user_id
    assert isinstance(verified.session_id, str) and verified.session_id
    assert type(verified.expires_at) is int and verified.expires_at > NOW.timestamp()
    assert verified.claims["iss"] == ISSUER
    assert "aud" not in verified.claims
    json.dumps(dict(verified.claims))


def _signed_by_hand(claims: dict[str, Any], header: dict[str, Any]) -> str:
    signing = _RING._signing
    assert signing is not None and signing.private is not None
    header["kid"] = signing.kid

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    signed = f"{part(header)}.{part(claims)}"
    signature = signing.private.sign(signed.encode())
    return f"{signed}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


# -- the client IP --------------------------------------------------------------------------

IPS = st.one_of(
    st.ip_addresses().map(str),
    st.sampled_from(["10.0.0.1", "127.0.0.1", "::1", "fe80::1%eth0", "::ffff:10.0.0.1"]),
)
HOPS = st.one_of(IPS, st.text(max_size=40), st.sampled_from(["", " ", "unknown", "_hidden"]))
NETWORKS = st.lists(
    st.sampled_from(["127.0.0.1", "10.0.0.0/8", "::1", "fc00::/7", "0.0.0.0/0", "::/0"]),
    max_size=3,
)


@BOUNDED
@given(
    NETWORKS,
    st.one_of(IPS, st.text(max_size=40)),
    st.one_of(
        st.none(),
        st.text(max_size=300),
        st.lists(HOPS, max_size=30).map(", ".join),
    ),
)
@example(["127.0.0.1"], "127.0.0.1", "1.2.3.4, evil, 10.0.0.1")
@example(["0.0.0.0/0", "::/0"], "127.0.0.1", "127.0.0.1, 10.0.0.1")
def test_client_ip_is_always_an_ip_or_the_peer(
    networks: list[str], peer: str, forwarded_for: str | None
) -> None:
    """Spoofed X-Forwarded-For (#21, ASVS 4.1.3): the answer is the peer or a real address."""
    proxies = TrustedProxies(networks)
    result = proxies.client_ip(peer, forwarded_for)
    if not networks:
        assert result == peer
    if result == peer:
        return
    address = ipaddress.ip_address(result)  # a real address, never header garbage
    # The header was believed only because the peer is one of our proxies...
    assert any(ipaddress.ip_address(peer) in network for network in proxies.networks)
    # ...and the answer is one of the hops it named, not something made up.
    assert forwarded_for is not None
    hops = set()
    for hop in forwarded_for.split(","):
        try:
            hops.add(ipaddress.ip_address(hop.strip()))
        except ValueError:
            continue
    assert address in hops, (result, forwarded_for)


@BOUNDED
@given(st.text(max_size=40), st.one_of(st.none(), st.text(max_size=300)))
def test_untrusted_peer_can_never_choose_its_address(peer: str, forwarded_for: str | None) -> None:
    """Spoofed X-Forwarded-For (#21): without a trusted proxy the peer is the client."""
    proxies = TrustedProxies(["10.0.0.0/8"])
    try:
        trusted = ipaddress.ip_address(peer) in proxies.networks[0]
    except ValueError:
        trusted = False
    if not trusted:
        assert proxies.client_ip(peer, forwarded_for) == peer


# -- the CSRF check -----------------------------------------------------------------------

_GUARD = CsrfGuard(TEST_SECRET, allowed_origins=frozenset({"http://testserver"}))


@BOUNDED
@given(
    st.one_of(st.none(), st.text(max_size=400)),
    st.dictionaries(st.sampled_from([CSRF_COOKIE, "other"]), st.text(max_size=120), max_size=2),
    st.dictionaries(
        st.sampled_from(["sec-fetch-site", "origin", "referer"]), st.text(max_size=60), max_size=3
    ),
)
def test_csrf_check_never_raises_and_never_accepts_forged_tokens(
    submitted: str | None, cookies: dict[str, str], headers: dict[str, str]
) -> None:
    """CSRF (#77): arbitrary tokens, cookies and headers are refused, never an exception."""
    ok = _GUARD.is_valid(
        submitted=submitted, cookies=cookies, headers=headers, own_origin="http://testserver"
    )
    # Only a token signed with the secret key can pass, and hypothesis cannot make one.
    assert ok is False


@pytest.mark.parametrize("fetch_site", [None, "same-origin", "none"])
def test_csrf_check_accepts_its_own_token_as_a_control(fetch_site: str | None) -> None:
    """Control for the property above: a real token for this browser's cookie passes."""
    scope: dict[str, Any] = {}
    token = _GUARD.token(scope, {})
    cookie = CsrfGuard.new_cookie_value(scope)
    assert cookie is not None
    headers = {} if fetch_site is None else {"sec-fetch-site": fetch_site}
    assert _GUARD.is_valid(
        submitted=token,
        cookies={CSRF_COOKIE: cookie},
        headers=headers,
        own_origin="http://testserver",
    )
