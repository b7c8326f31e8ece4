"""Components sharing a host page: every id is unique to its component instance, each
label and description points into its own form, and a swapped step keeps its instance's
ids. The resend-code button is usable without JavaScript."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser

import httpx
import pytest

from .flow_helpers import csrf_of
from .flow_helpers import start_sign_up as start

pytestmark = pytest.mark.anyio

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    component: int | None
    form: int | None


@dataclass
class Page(HTMLParser):
    elements: list[Element] = field(default_factory=list)
    _stack: list[tuple[str, int | None, int | None]] = field(default_factory=list)
    _components: int = 0
    _forms: int = 0

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        component, form = self._stack[-1][1:] if self._stack else (None, None)
        if "ak-component" in values.get("class", "").split():
            self._components += 1
            component = self._components
        if tag == "form":
            self._forms += 1
            form = self._forms
        self.elements.append(Element(tag, values, component, form))
        if tag not in VOID:
            self._stack.append((tag, component, form))

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            if self._stack.pop()[0] == tag:
                break

    def by_id(self, ident: str) -> Element:
        found = [e for e in self.elements if e.attrs.get("id") == ident]
        assert len(found) == 1, f"{len(found)} elements with id {ident!r}"
        return found[0]


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    return page


def assert_ids_unique_and_local(page: Page) -> None:
    ids = Counter(e.attrs["id"] for e in page.elements if "id" in e.attrs)
    assert [i for i, n in ids.items() if n > 1] == []
    for element in page.elements:
        refs = [("for", element.attrs.get("for", ""))]
        refs += [("aria-describedby", r) for r in element.attrs.get("aria-describedby", "").split()]
        refs += [("aria-controls", element.attrs.get("aria-controls", ""))]
        refs += [("data-ak-toggle", element.attrs.get("data-ak-toggle", ""))]
        for attribute, ref in refs:
            if not ref:
                continue
            target = page.by_id(ref)
            assert (target.component, target.form) == (element.component, element.form), (
                f"{element.tag} {attribute}={ref!r} points outside its own form"
            )


async def test_sign_in_and_sign_up_on_one_page_have_their_own_ids(
    client: httpx.AsyncClient,
) -> None:
    """SignIn, SignUp and a second SignIn on one host page: no id twice, and every label,
    description and Show button refers to its own form's field."""
    r = await client.get("/both")
    assert r.status_code == 200, r.text
    page = parse(r.text)
    assert_ids_unique_and_local(page)
    emails = [e for e in page.elements if e.tag == "input" and e.attrs.get("name") == "email"]
    assert len(emails) == 3 and len({e.component for e in emails}) == 3
    labels = [e for e in page.elements if e.tag == "label"]
    assert {page.by_id(label.attrs["for"]).attrs["name"] for label in labels} >= {
        "email",
        "password",
    }


async def test_a_swapped_step_keeps_its_instance_ids(client: httpx.AsyncClient) -> None:
    """htmx re-renders the second SignIn on the page (its HX-Target) with that instance's
    ids, so they still differ from the first SignIn's."""
    page = await client.get("/both")
    token = csrf_of(page.text)
    r = await client.post(
        "/auth/sign-in",
        data={"csrf_token": token, "email": "not-an-address", "password": "x"},
        headers={"HX-Request": "true", "HX-Target": "div#ak-sign-in-2"},
    )
    assert r.status_code == 422, r.text
    swapped = parse(r.text)
    assert swapped.elements[0].attrs["id"] == "ak-sign-in-2"
    assert_ids_unique_and_local(swapped)
    email = swapped.by_id("ak-sign-in-2-email")
    assert email.attrs["aria-describedby"] == "ak-sign-in-2-email-error"
    # An unknown or foreign target gets the component's own id, never the header's text.
    r = await client.post(
        "/auth/sign-in",
        data={"csrf_token": token, "email": "not-an-address", "password": "x"},
        headers={"HX-Request": "true", "HX-Target": 'div#"><script>'},
    )
    assert parse(r.text).elements[0].attrs["id"] == "ak-sign-in"


async def test_resend_button_is_rendered_enabled(client: httpx.AsyncClient) -> None:
    """Without JavaScript nothing would ever enable a disabled button: it is rendered
    enabled during the cooldown (the server answers with the wait) and JavaScript disables
    it while the countdown runs."""
    page = await start(client, "ada@example.com")
    buttons = re.findall(r"<button[^>]*>\s*Send a new code", page.text)
    assert len(buttons) == 1, page.text
    assert "disabled" not in buttons[0]
    assert "data-ak-wait" in buttons[0]
