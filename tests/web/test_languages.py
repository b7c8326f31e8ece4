"""
Languages on the web: every word of the pages and emails goes through the message table
(a pseudo-locale shows any that does not), a request's language is negotiated and marked
(`lang`, `dir`), and a user's chosen language is kept on the account, in a cookie for the
pages, and used for the emails they are sent. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx
import pytest
from babel.dates import get_month_names
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from sqlmodel import select

from authkit import AuthKit
from authkit.errors import FieldError
from authkit.flows.notices import compose
from authkit.store.models import UserRow

from ..conftest import TEST_SECRET, KitFactory, Mailbox
from .flow_helpers import PASSWORD, csrf_of, form_token, host_client, sign_up, start_sign_up
from .pseudo_locale import PSEUDO_LOCALE, pseudo, unmarked_words, write_pseudo_catalog

pytestmark = pytest.mark.anyio

EMAIL = "ada@example.com"
#: Words a page may show unmarked: the site's name, the user's (and initials),
#: language names.
ALLOWED = {
    "authkit",
    "Ada",
    "Lovelace",
    "AL",
    "UTC",
    "English",
    "Esperanto",
    "Analytical",
    "Engines",
    "AE",
    # Dates are Babel's, in the language: its month names are not the table's.
    *get_month_names("wide", locale=PSEUDO_LOCALE).values(),
}


@pytest.fixture
def pseudo_dir(tmp_path: Path) -> Path:
    """The pseudo-locale's catalog, and a one-sentence Arabic one beside it."""
    folder = write_pseudo_catalog(tmp_path / "locale")
    catalog = Catalog(locale="ar")
    catalog.add("Sign in to {app_name}", "تسجيل الدخول إلى {app_name}", context="sign_in_title")
    (folder / "ar" / "LC_MESSAGES").mkdir(parents=True)
    with (folder / "ar" / "LC_MESSAGES" / "authkit.mo").open("wb") as handle:
        write_mo(handle, catalog)
    return folder


async def _kit_in_pseudo_locale(make_kit: KitFactory, pseudo_dir: Path) -> AuthKit:
    return make_kit(
        locale=PSEUDO_LOCALE,
        translation_dirs=[pseudo_dir],
        organizations=True,
        admins=EMAIL,
        sign_up="open",
    )


#: The pages of a signed-in admin with an organization, in the pseudo-locale.
SIGNED_IN_PAGES = (
    "/auth/user",
    "/auth/user/emails/add",
    "/auth/user/security",
    "/auth/user/security/password",
    "/auth/user/security/totp",
    "/auth/user/security/delete",
    "/auth/user/security/activity",
    "/auth/user/security/sessions/revoke-others",
    "/auth/organizations",
    "/auth/organizations/new",
    "/auth/organizations/analytical-engines",
    "/auth/admin",
    "/auth/admin/users/new",
    "/auth/admin/invitations",
    "/auth/admin/webhooks",
)


async def save_language(
    client: httpx.AsyncClient, locale: str, *, profile: str | None = None
) -> httpx.Response:
    """Choose `locale` in the profile's Language select and save (`profile`: the page's
    HTML when the test has it already)."""
    if profile is None:
        profile = (await client.get("/auth/user")).text
    return await client.post(
        "/auth/user",
        data={"csrf_token": csrf_of(profile), "first_name": "", "locale": locale},
    )


def assert_all_translated(page: str, where: str) -> None:
    assert f'lang="{PSEUDO_LOCALE}"' in page, where
    assert unmarked_words(page, allowed=ALLOWED) == [], where


async def test_every_word_of_the_pages_goes_through_the_table(
    make_kit: KitFactory, mailbox: Mailbox, pseudo_dir: Path
) -> None:
    kit = await _kit_in_pseudo_locale(make_kit, pseudo_dir)
    async with host_client(kit) as client:
        for path in ("/auth/sign-in", "/auth/sign-up", "/auth/forgot-password"):
            r = await client.get(path)
            assert r.status_code == 200, path
            assert_all_translated(r.text, path)
        # A refused form, re-rendered with its messages.
        refused = await client.post(
            "/auth/sign-up",
            data={
                "csrf_token": await form_token(client, "/auth/sign-up"),
                "email": "not an address",
                "password": "short",
            },
        )
        assert refused.status_code == 422
        assert_all_translated(refused.text, "refused sign-up")
        missing = await client.get("/auth/no-such-page")
        assert missing.status_code == 404
        assert_all_translated(missing.text, "404")

        await sign_up(client, kit, mailbox, EMAIL, first_name="Ada", last_name="Lovelace")
        user = await kit.users.get_by_email(EMAIL)
        assert user is not None
        await kit.organizations.create(
            name="Analytical Engines", slug="analytical-engines", created_by=user.id
        )
        for path in SIGNED_IN_PAGES:
            r = await client.get(path)
            assert r.status_code == 200, path
            assert_all_translated(r.text, path)
        r = await client.get(f"/auth/admin/users/{user.id}")
        assert_all_translated(r.text, "admin user page")
    await kit.aclose()


async def test_every_word_of_the_emails_goes_through_the_table(
    make_kit: KitFactory, mailbox: Mailbox, pseudo_dir: Path
) -> None:
    kit = await _kit_in_pseudo_locale(make_kit, pseudo_dir)
    async with host_client(kit) as client:
        await sign_up(client, kit, mailbox, EMAIL)
    await kit.aclose()
    message = mailbox.to(EMAIL)[0]
    assert unmarked_words(f"<p>{message['Subject']}</p>", allowed=ALLOWED) == []
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    plain = str(text.get_content())  # type: ignore[attr-defined]
    assert (
        unmarked_words("<pre>" + re.sub(r"\b\d{6}\b", "", plain) + "</pre>", allowed=ALLOWED) == []
    ), plain
    rich = str(html.get_content())  # type: ignore[attr-defined]
    assert_all_translated(re.sub(r"\b\d{6}\b", "", rich), "sign-up email")


async def test_the_browsers_language_is_chosen_and_marked(
    make_kit: KitFactory, pseudo_dir: Path
) -> None:
    kit = make_kit(translation_dirs=[pseudo_dir])
    async with host_client(kit) as client:
        r = await client.get("/auth/sign-in", headers={"Accept-Language": "eo, en;q=0.5"})
        assert '<html lang="eo" dir="ltr"' in r.text
        assert pseudo("Sign in to {app_name}").format(app_name="authkit") in r.text
        english = await client.get("/auth/sign-in", headers={"Accept-Language": "fi"})
        assert '<html lang="en" dir="ltr"' in english.text
        arabic = await client.get("/auth/sign-in", headers={"Accept-Language": "ar"})
        assert '<html lang="ar" dir="rtl"' in arabic.text
        # Each component's root says its language too (a host page may be in another).
        assert 'class="ak-component" id="ak-sign-in" lang="ar" dir="rtl"' in arabic.text
    await kit.aclose()


async def test_a_user_chooses_a_language_kept_on_the_account_and_in_a_cookie(
    make_kit: KitFactory, mailbox: Mailbox, pseudo_dir: Path
) -> None:
    kit = make_kit(translation_dirs=[pseudo_dir], languages="en,eo")
    async with host_client(kit) as client:
        await sign_up(client, kit, mailbox, EMAIL)
        profile = await client.get("/auth/user")
        assert 'name="locale"' in profile.text
        assert '<option value="eo" lang="eo">Esperanto</option>' in profile.text
        r = await save_language(client, "eo", profile=profile.text)
        assert r.status_code == 303
        assert r.headers["location"] == "/auth/user?done=language_saved"
        assert "__ak_lang=eo" in r.headers["set-cookie"]
        after = await client.get(r.headers["location"])
        assert '<html lang="eo"' in after.text
        assert pseudo("Your language was saved.") in after.text
        # Every page of the site now, whatever the browser says.
        security = await client.get("/auth/user/security", headers={"Accept-Language": "en"})
        assert '<html lang="eo"' in security.text
        refused = await client.post(
            "/auth/user",
            data={"csrf_token": csrf_of(after.text), "first_name": "", "locale": "xx"},
        )
        assert refused.status_code == 422
        assert pseudo("Choose one of the languages listed.") in refused.text
    async with kit.services.db.session() as s:
        row = (await s.exec(select(UserRow))).one()
    assert row.locale == "eo"
    await kit.aclose()


async def test_an_account_keeps_the_language_it_was_made_in(
    make_kit: KitFactory, mailbox: Mailbox, pseudo_dir: Path
) -> None:
    kit = make_kit(translation_dirs=[pseudo_dir])
    transport = httpx.ASGITransport(app=host_client(kit)._transport.app)  # type: ignore[attr-defined]
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"Accept-Language": "eo"}
    ) as client:
        await sign_up(client, kit, mailbox, EMAIL)
    async with kit.services.db.session() as s:
        row = (await s.exec(select(UserRow))).one()
    assert row.locale == "eo"
    await kit.aclose()


async def test_a_site_with_one_language_offers_no_choice(
    make_kit: KitFactory, mailbox: Mailbox
) -> None:
    kit = make_kit(locale="en")
    async with host_client(kit) as client:
        await sign_up(client, kit, mailbox, EMAIL)
        profile = await client.get("/auth/user")
        assert 'name="locale"' not in profile.text
    await kit.aclose()


async def test_emails_about_an_account_are_in_its_owners_language(
    make_kit: KitFactory, mailbox: Mailbox, pseudo_dir: Path
) -> None:
    """The owner chose the pseudo-locale; someone on an English page types their address
    into the sign-up form: the owner's warning comes in the owner's language, while a
    code asked for on an English page comes in English."""
    kit = make_kit(translation_dirs=[pseudo_dir], languages="en,eo")
    async with host_client(kit) as client:
        await sign_up(client, kit, mailbox, EMAIL)
        assert (await save_language(client, "eo")).status_code == 303
    async with host_client(kit) as stranger:
        before = len(mailbox.to(EMAIL))
        await start_sign_up(stranger, EMAIL)
        await kit.services.mailer.drain()
        warning = mailbox.to(EMAIL)[before]
        assert str(warning["Subject"]).startswith("⟦"), warning["Subject"]
        assert 'lang="eo"' in str(warning.get_body(preferencelist=("html",)).get_content())  # type: ignore[union-attr]
        await start_sign_up(stranger, "newcomer@example.com")
        await kit.services.mailer.drain()
        code_mail = mailbox.to("newcomer@example.com")[0]
        assert "⟦" not in str(code_mail["Subject"])
    await kit.aclose()


async def test_signing_in_brings_the_users_language_to_a_new_browser(
    make_kit: KitFactory, mailbox: Mailbox, pseudo_dir: Path
) -> None:
    kit = make_kit(translation_dirs=[pseudo_dir], languages="en,eo")
    async with host_client(kit) as client:
        await sign_up(client, kit, mailbox, EMAIL)
        assert (await save_language(client, "eo")).status_code == 303
    async with host_client(kit) as elsewhere:
        page = await elsewhere.get("/auth/sign-in", headers={"Accept-Language": "en"})
        assert '<html lang="en"' in page.text
        r = await elsewhere.post(
            "/auth/sign-in",
            data={"csrf_token": csrf_of(page.text), "email": EMAIL, "password": PASSWORD},
        )
        assert r.status_code == 303
        assert "__ak_lang=eo" in ";".join(r.headers.get_list("set-cookie"))
        after = await elsewhere.get("/auth/user", headers={"Accept-Language": "en"})
        assert '<html lang="eo"' in after.text
    await kit.aclose()


@pytest.mark.parametrize(
    "template",
    sorted(
        {
            path.name.split(".")[0]
            for path in (
                Path(__file__).resolve().parents[2] / "src/authkit/templates/authkit/email"
            ).iterdir()
            if not path.name.startswith("_")
        }
    ),
)
async def test_every_email_goes_through_the_table(
    tmp_path: Path, pseudo_dir: Path, template: str
) -> None:
    """Each email, HTML, text and subject, in the pseudo-locale: no word of its own.
    (Composing reads no database: one kind of store is enough.)"""
    kit = AuthKit(
        secret_key=TEST_SECRET,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/emails.db",
        translation_dirs=[pseudo_dir],
        languages="en,eo",
    )
    values = {
        "code": "123456",
        "link": "https://example.com/l",
        "accept_url": "https://example.com/a",
        "sign_up_url": "https://example.com/s",
        "organizations_url": "https://example.com/o",
        "inviter_name": "Ada",
        "organization_name": "Analytical Engines",
        "role_name": "Ada",
        "new_email": "new@example.com",
        "passkey": "Ada",
        "days": 7,
        "left": 3,
    }
    for inviter in ("Ada", ""):
        message = compose(
            kit.services, template, EMAIL, locale="eo", **{**values, "inviter_name": inviter}
        )
        assert unmarked_words(f"<p>{message['Subject']}</p>", allowed=ALLOWED) == [], template
        for kind in ("plain", "html"):
            part = message.get_body(preferencelist=(kind,))
            if part is None:
                continue
            body = str(part.get_content())  # type: ignore[attr-defined]
            wrapped = body if kind == "html" else f"<pre>{html.escape(body)}</pre>"
            assert unmarked_words(wrapped, allowed=ALLOWED) == [], (template, kind, body)
    await kit.aclose()


async def test_the_hosts_hook_chooses_the_language(make_kit: KitFactory, pseudo_dir: Path) -> None:
    """`locale_selector(request)`: here the host's own `?lang=`; None leaves it to the
    browser, and a language not offered is passed over."""
    kit = make_kit(
        translation_dirs=[pseudo_dir],
        locale_selector=lambda request: request.query_params.get("lang"),
    )
    async with host_client(kit) as client:
        chosen = await client.get("/auth/sign-in?lang=eo", headers={"Accept-Language": "en"})
        assert '<html lang="eo"' in chosen.text
        left = await client.get("/auth/sign-in", headers={"Accept-Language": "ar"})
        assert '<html lang="ar" dir="rtl"' in left.text
        unknown = await client.get("/auth/sign-in?lang=xx", headers={"Accept-Language": "en"})
        assert '<html lang="en"' in unknown.text
    await kit.aclose()


async def test_a_built_in_role_is_named_in_the_members_language(
    make_kit: KitFactory, mailbox: Mailbox, pseudo_dir: Path
) -> None:
    """The admin changes a role from an English page; the member's email names the role
    in the member's language, as the rest of it."""
    kit = make_kit(translation_dirs=[pseudo_dir], languages="en,eo", organizations=True)
    await kit.ensure_started()
    owner = await kit.users.create(email="owner@example.com", password=PASSWORD)
    member = await kit.users.create(email=EMAIL, password=PASSWORD)
    async with kit.services.db.session() as s:
        row = await s.get(UserRow, member.id)
        assert row is not None
        row.locale = PSEUDO_LOCALE
        s.add(row)
    org = await kit.organizations.create(name="Analytical Engines", created_by=owner.id)
    await kit.organizations.add_member(org.id, member.id)
    assert await kit.organizations.set_role(org.id, member.id, "org:admin")
    await kit.services.mailer.drain()
    changed = mailbox.to(EMAIL)[-1]
    assert pseudo("Admin") in str(changed["Subject"]), changed["Subject"]
    await kit.aclose()


async def test_the_host_sets_a_users_language(
    make_kit: KitFactory, mailbox: Mailbox, pseudo_dir: Path
) -> None:
    """`authkit.users.update(user_id, locale=...)`: a host keeping its own language setting
    keeps authkit's in step; a language the site does not offer is refused."""
    kit = make_kit(translation_dirs=[pseudo_dir], languages="en,eo")
    await kit.ensure_started()
    user = await kit.users.create(email=EMAIL, password=PASSWORD)
    assert user.locale is None
    updated = await kit.users.update(user.id, locale="eo")
    assert updated is not None and updated.locale == "eo"
    with pytest.raises(FieldError) as refused:
        await kit.users.update(user.id, locale="it")
    assert refused.value.code == "language_unknown"
    await kit.aclose()
