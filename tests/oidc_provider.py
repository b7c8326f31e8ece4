"""
The real OpenID provider the social-login tests sign in with (tests/js/op.mjs, npm
oidc-provider): started once per test session, and the steps a browser takes on its
development login page.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from urllib.parse import urljoin

import httpx

from .conftest import JS_DIR, free_port, need_node

CLIENT_ID = "authkit-test"
CLIENT_SECRET = "authkit-test-secret"
#: The web tests' site (httpx on the ASGI app) and its provider's callback.
TEST_SITE = "http://testserver"


@dataclass(frozen=True)
class OpenIdProvider:
    issuer: str

    def settings(self, name: str = "acme", **overrides: object) -> dict[str, object]:
        """AuthKit keyword arguments configuring this provider as `name`."""
        from authkit.social.providers import OAuthProvider

        provider = OAuthProvider(
            name=name,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            issuer=self.issuer,
            **overrides,  # type: ignore[arg-type]
        )
        return {"oauth_providers": [provider]}


def start_provider(redirect_uris: list[str]) -> Iterator[OpenIdProvider]:
    node = need_node("social login against oidc-provider")
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {**os.environ, "OP_PORT": str(port), "OP_REDIRECT_URIS": ",".join(redirect_uris)}
    process = subprocess.Popen(
        [node, "op.mjs"],
        cwd=JS_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(150):
            try:
                httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("oidc-provider did not start")
        yield OpenIdProvider(issuer)
    finally:
        process.terminate()
        process.wait(5)


async def sign_in_at_provider(
    provider_client: httpx.AsyncClient, authorize_url: str, login: str, *, until: str
) -> str:
    """
    Walk the provider's pages from `authorize_url` as a browser would: log in as `login`
    and follow redirects until one leaves for `until` (the site's callback); returns
    that URL.
    """
    url = authorize_url
    for _ in range(20):
        response = await provider_client.get(url)
        if response.is_redirect:
            url = urljoin(url, response.headers["location"])
            if url.startswith(until):
                return url
            continue
        form = re.search(r'<form[^>]*action="([^"]+)"', response.text)
        assert form, response.text
        response = await provider_client.post(
            urljoin(url, unescape(form.group(1))),
            data={"prompt": "login", "login": login, "password": "any"},
        )
        assert response.is_redirect, response.text
        url = urljoin(url, response.headers["location"])
        if url.startswith(until):
            return url
    raise AssertionError("the provider never sent the browser back")


async def abort_at_provider(
    provider_client: httpx.AsyncClient, authorize_url: str, until: str
) -> str:
    """Cancel on the provider's login page ("[ Cancel ]"); returns the callback URL."""
    response = await provider_client.get(authorize_url)
    url = urljoin(authorize_url, response.headers["location"])
    page = await provider_client.get(url)
    abort = re.search(r'href="([^"]*/abort)"', page.text)
    assert abort, page.text
    url = urljoin(url, unescape(abort.group(1)))
    for _ in range(10):
        response = await provider_client.get(url)
        assert response.is_redirect, response.text
        url = urljoin(url, response.headers["location"])
        if url.startswith(until):
            return url
    raise AssertionError("the provider never sent the browser back")
