"""The template layers: every message key a template uses exists, a host overrides any
single file from its own folder, and messages can be replaced by the host."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from authkit import AuthKit
from authkit.flows.factors import STRATEGIES
from authkit.messages import MESSAGES

from ..conftest import KitFactory
from ..hostapp import make_host_app

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "authkit" / "templates" / "authkit"


def test_every_message_key_used_by_a_template_exists() -> None:
    """A typo in t("...") would show the generic error text: none exists. A key built
    from a prefix (`t("method_" ~ name)`) must exist for every factor."""
    used = set()
    for path in [*TEMPLATES.rglob("*.html"), *TEMPLATES.rglob("*.txt")]:
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+)["']""", path.read_text()))
    assert used, "no t() calls found"
    prefixes = {key for key in used if key.endswith("_")}
    assert prefixes == {"method_"}, prefixes
    used |= {f"method_{name}" for name in STRATEGIES}
    assert sorted(used - prefixes - set(MESSAGES)) == []


def test_pages_compose_elements_and_never_style_raw_html() -> None:
    """Pages only pick a component; components build forms from element macros."""
    for page in (TEMPLATES / "pages").glob("*.html"):
        text = page.read_text()
        assert "<form" not in text and "class=" not in text, page.name
    for component in (TEMPLATES / "components").glob("*.html"):
        assert "<input class=" not in component.read_text(), component.name


@pytest.mark.anyio
async def test_host_overrides_one_element_from_its_own_folder(
    make_kit: KitFactory, tmp_path: Path
) -> None:
    """A file at templates/authkit/elements/button.html restyles every button."""
    folder = tmp_path / "templates" / "authkit" / "elements"
    folder.mkdir(parents=True)
    (folder / "button.html").write_text(
        '{% macro button(type="submit", variant="primary", name=None, value=None) %}'
        '<button class="brand-button" type="{{ type }}">{{ caller() }}</button>{% endmacro %}'
    )
    kit: AuthKit = make_kit(template_dirs=[tmp_path / "templates"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_host_app(kit)), base_url="http://testserver"
    ) as client:
        r = await client.get("/auth/sign-in")
    await kit.aclose()
    assert r.status_code == 200, r.text
    assert '<button class="brand-button" type="submit">Continue</button>' in r.text
    assert 'name="email"' in r.text  # everything else still comes from the package


@pytest.mark.anyio
async def test_host_replaces_messages(make_kit: KitFactory) -> None:
    """AuthKit(messages=...) changes the text, placeholders included."""
    kit: AuthKit = make_kit(
        messages={"sign_in_title": "Welcome back to {app_name}", "continue": "Go"},
        app_name="Acme",
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_host_app(kit)), base_url="http://testserver"
    ) as client:
        r = await client.get("/auth/sign-in")
    await kit.aclose()
    assert "Welcome back to Acme" in r.text
    assert ">Go<" in r.text


@pytest.mark.anyio
async def test_theme_becomes_css_variables_and_forced_mode(make_kit: KitFactory) -> None:
    """theme= is served as /auth/theme.css; a forced mode marks the page."""
    kit: AuthKit = make_kit(theme={"color_primary": "#0f766e", "radius": "0", "mode": "dark"})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_host_app(kit)), base_url="http://testserver"
    ) as client:
        page = await client.get("/auth/sign-in")
        href = re.search(r'href="(/auth/theme\.css\?v=[0-9a-f]+)"', page.text)
        assert href, page.text
        css = await client.get(href.group(1))
    await kit.aclose()
    assert '<html lang="en" dir="ltr" data-ak-theme="dark">' in page.text
    assert css.headers["content-type"].startswith("text/css")
    assert "--ak-color-primary: #0f766e;" in css.text and "--ak-radius: 0;" in css.text
    assert "immutable" in css.headers["cache-control"]


@pytest.mark.parametrize(
    "value", ["red;}body{display:none", "url(https://evil.example/x.png)", "</style>", "x" * 300]
)
def test_theme_values_cannot_escape_their_declaration(value: str) -> None:
    """A theme value is a plain CSS value or the kit refuses to start."""
    from authkit import ConfigError
    from authkit.theming import Theme

    with pytest.raises(ConfigError):
        Theme(color_primary=value)


@pytest.mark.anyio
async def test_logo_and_app_name_appear_in_every_component(make_kit: KitFactory) -> None:
    """theme logo_url and app_name brand the card; the logo's alt text is the app name."""
    kit: AuthKit = make_kit(theme={"logo_url": "/static/logo.svg"}, app_name="Acme & Co")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_host_app(kit)), base_url="http://testserver"
    ) as client:
        pages = [await client.get(p) for p in ("/auth/sign-in", "/auth/sign-up")]
    await kit.aclose()
    for page in pages:
        assert '<img class="ak-card__logo" src="/static/logo.svg" alt="Acme &amp; Co">' in page.text
    assert "Sign in to Acme &amp; Co" in pages[0].text
