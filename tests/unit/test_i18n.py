"""
Languages: Accept-Language negotiation, the order a request's language is chosen in, the
message table in a language (catalogs, plural forms, overrides per language), and dates
and waits written out in it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from starlette.types import Scope

from authkit.errors import ConfigError, RateLimited
from authkit.i18n import CatalogSource, LocalePolicy, Plural, using_locale
from authkit.i18n.formats import date_text, datetime_text, wait_text
from authkit.i18n.locales import (
    current_locale,
    html_lang,
    negotiate_accept_language,
    normalize_locale,
    text_direction,
)
from authkit.messages import MESSAGES, Messages

OFFERED = ("en", "de", "fr", "es", "pt_BR", "ja", "ar")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("de-AT", "de"),
        ("fr-CA;q=0.5, ja;q=0.9", "ja"),
        ("pt", "pt_BR"),
        ("pt-PT,pt;q=0.9", "pt_BR"),
        ("ES", "es"),
        ("zh-CN,zh;q=0.9", None),
        ("*", None),
        ("de;q=0, fr", "fr"),
        ("de;q=abc, ar", "ar"),
        ("", None),
        (",,;;==", None),
    ],
)
def test_accept_language_is_negotiated_among_the_offered(header: str, expected: str | None):
    assert negotiate_accept_language(header, OFFERED) == expected


def test_a_huge_accept_language_header_is_read_only_so_far() -> None:
    """A header of thousands of tags costs a bounded read: the first dozen count."""
    header = ",".join(["xx"] * 5000 + ["de"])
    assert negotiate_accept_language(header, OFFERED) is None


def test_tags_are_normalized_and_carry_their_html_lang_and_direction() -> None:
    assert normalize_locale("pt-br") == "pt_BR"
    assert normalize_locale("DE") == "de"
    with pytest.raises(ValueError, match="not a language tag"):
        normalize_locale("klingon-xx-yy")
    assert html_lang("pt_BR") == "pt-BR"
    assert text_direction("ar") == "rtl"
    assert text_direction("de") == "ltr"


def _scope(*headers: tuple[bytes, bytes]) -> Scope:
    return {"type": "http", "method": "GET", "path": "/", "headers": list(headers)}


def _policy(tmp_path: Path, **kwargs: object) -> LocalePolicy:
    catalogs = _catalog_dir(tmp_path, {"de": {}, "ar": {}})
    values: dict = {"locale": None, "languages": "", "selector": None, **kwargs}
    return LocalePolicy(catalogs=CatalogSource([catalogs]), **values)


def _catalog_dir(tmp_path: Path, languages: dict[str, dict[str, str | tuple[str, ...]]]) -> Path:
    """Compiled catalogs in a host's folder: code → translation (a tuple: plural forms)."""
    folder = tmp_path / "locale"
    for locale, translations in languages.items():
        catalog = Catalog(locale=locale)
        for code, translated in translations.items():
            source = MESSAGES[code]
            english = (source.one, source.other) if isinstance(source, Plural) else source
            catalog.add(english, translated, context=code)
        target = folder / locale / "LC_MESSAGES"
        target.mkdir(parents=True, exist_ok=True)
        with (target / "authkit.mo").open("wb") as handle:
            write_mo(handle, catalog)
    return folder


class TestChoosingARequestsLanguage:
    def test_the_browser_decides_among_the_languages_there_are_catalogs_for(
        self, tmp_path: Path
    ) -> None:
        policy = _policy(tmp_path)
        assert "de" in policy.languages and "ar" in policy.languages
        assert policy.choose(_scope((b"accept-language", b"de-CH, en;q=0.5"))) == "de"
        assert policy.choose(_scope((b"accept-language", b"zh"))) == policy.languages[0]
        assert policy.choose(_scope()) == "en"

    def test_the_users_choice_beats_the_browser_and_the_host_beats_both(
        self, tmp_path: Path
    ) -> None:
        cookie = (b"cookie", b"a=1; __ak_lang=ar")
        accept = (b"accept-language", b"de")
        assert _policy(tmp_path).choose(_scope(accept, cookie)) == "ar"
        chosen = _policy(tmp_path, selector=lambda request: "de-AT")
        assert chosen.choose(_scope(accept, cookie)) == "de"
        undecided = _policy(tmp_path, selector=lambda request: None)
        assert undecided.choose(_scope(accept, cookie)) == "ar"

    def test_a_cookie_or_hook_naming_a_language_not_offered_is_passed_over(
        self, tmp_path: Path
    ) -> None:
        policy = _policy(tmp_path, selector=lambda request: "it", languages="en,de")
        assert policy.choose(_scope((b"cookie", b"__ak_lang=ar"))) == "en"

    def test_a_fixed_locale_wins_over_everything(self, tmp_path: Path) -> None:
        policy = _policy(tmp_path, locale="de", selector=lambda request: "ar")
        assert policy.choose(_scope((b"accept-language", b"ar"))) == "de"
        assert not policy.is_choosable

    def test_the_languages_setting_orders_and_limits_them(self, tmp_path: Path) -> None:
        policy = _policy(tmp_path, languages="de, en")
        assert policy.languages == ("de", "en")
        assert policy.choose(_scope((b"accept-language", b"ar"))) == "de"

    def test_a_language_without_a_catalog_stops_the_kit_naming_it(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="no translation catalog for it"):
            _policy(tmp_path, languages="en,it")
        with pytest.raises(ConfigError, match="no translation catalog for nl"):
            _policy(tmp_path, locale="nl")


class TestTheTableInALanguage:
    def test_a_catalog_translates_and_english_fills_what_it_lacks(self, tmp_path: Path) -> None:
        folder = _catalog_dir(tmp_path, {"de": {"required": "Dieses Feld ist erforderlich."}})
        t = Messages(catalogs=CatalogSource([folder]))
        with using_locale("de"):
            assert t("required") == "Dieses Feld ist erforderlich."
            assert t("email_invalid") == MESSAGES["email_invalid"]
        assert t("required") == MESSAGES["required"]

    def test_a_translation_of_english_that_has_since_changed_is_not_used(
        self, tmp_path: Path
    ) -> None:
        folder = tmp_path / "locale"
        catalog = Catalog(locale="de")
        catalog.add("This field is needed.", "Veraltet.", context="required")
        (folder / "de" / "LC_MESSAGES").mkdir(parents=True)
        with (folder / "de" / "LC_MESSAGES" / "authkit.mo").open("wb") as handle:
            write_mo(handle, catalog)
        t = Messages(catalogs=CatalogSource([folder]))
        with using_locale("de"):
            assert t("required") == MESSAGES["required"]

    def test_plural_forms_follow_the_languages_rule(self, tmp_path: Path) -> None:
        forms = ("zero {max}", "one {max}", "two {max}", "few {max}", "many {max}", "other {max}")
        folder = _catalog_dir(tmp_path, {"ar": {"too_long": forms}})
        t = Messages(catalogs=CatalogSource([folder]))
        with using_locale("ar"):
            shown = [t("too_long", max=n) for n in (0, 1, 2, 5, 11, 100)]
        assert shown == ["zero 0", "one 1", "two 2", "few 5", "many 11", "other 100"]
        assert t("too_long", max=1) == "This is too long: at most 1 character."
        assert t("too_long", max=254) == "This is too long: at most 254 characters."

    def test_overrides_per_language_beat_those_for_all_which_beat_the_catalog(
        self, tmp_path: Path
    ) -> None:
        folder = _catalog_dir(
            tmp_path,
            {"de": {"required": "Pflichtfeld.", "email_invalid": "Ungültige Adresse."}},
        )
        t = Messages(
            {"required": "Fill this in.", "de": {"required": "Bitte ausfüllen."}},
            catalogs=CatalogSource([folder]),
        )
        with using_locale("de"):
            assert t("required") == "Bitte ausfüllen."
            assert t("email_invalid") == "Ungültige Adresse."
        assert t("required") == "Fill this in."
        regional = Messages({"pt": {"required": "Preencha."}})
        with using_locale("pt_BR"):
            assert regional("required") == "Preencha."

    def test_an_override_may_be_plural(self) -> None:
        t = Messages({"too_long": Plural("Max {max} char!", "Max {max} chars!", "max")})
        assert (t("too_long", max=1), t("too_long", max=3)) == ("Max 1 char!", "Max 3 chars!")

    def test_the_language_outside_any_request_is_the_default(self) -> None:
        assert current_locale() == "en"
        with using_locale("ja"):
            assert current_locale() == "ja"
        assert current_locale() == "en"


class TestFormats:
    def test_dates_and_times_are_written_in_the_language(self) -> None:
        at = datetime(2025, 3, 3, 14, 5, tzinfo=UTC)
        assert date_text(at, "en") == "3 March 2025"
        assert date_text(at, "de") == "3. März 2025"
        assert date_text(at, "ja") == "2025年3月3日"
        assert datetime_text(at, "en") == "3 March 2025, 14:05 UTC"
        assert datetime_text(at, "de") == "3. März 2025, 14:05 UTC"

    def test_waits_are_rounded_up_to_a_whole_unit(self) -> None:
        assert wait_text(1, "en") == "1 second"
        assert wait_text(45, "en") == "45 seconds"
        assert wait_text(61, "en") == "2 minutes"
        assert wait_text(3600, "en") == "1 hour"
        assert wait_text(3 * 86400, "en") == "3 days"
        assert wait_text(120, "de") == "2 Minuten"

    def test_a_rate_limits_wait_is_written_when_shown(self) -> None:
        error = RateLimited(retry_after=90)
        t = Messages()
        assert t(error.code, **error.params) == "Too many attempts. Try again in 2 minutes."
        with using_locale("fr"):
            assert "2 minutes" in str(error.params["wait"])
        with using_locale("de"):
            assert str(error.params["wait"]) == "2 Minuten"


def test_a_regional_language_uses_its_languages_catalog(tmp_path: Path) -> None:
    """`de_AT` is offered with the German catalog (and Austrian dates); `en_GB` needs
    none: the table is English."""
    policy = _policy(tmp_path, languages="de_AT, en_GB")
    assert policy.languages == ("de_AT", "en_GB")
    assert policy.choose(_scope((b"accept-language", b"de"))) == "de_AT"
    folder = _catalog_dir(tmp_path / "other", {"de": {"required": "Pflichtfeld."}})
    t = Messages(catalogs=CatalogSource([folder]))
    with using_locale("de_AT"):
        assert t("required") == "Pflichtfeld."
    assert date_text(datetime(2025, 1, 3, tzinfo=UTC), "de_AT") == "3. Jänner 2025"


def test_a_hook_that_fails_is_logged_and_the_browser_decides(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(request: object) -> str:
        raise LookupError("no such user setting")

    policy = _policy(tmp_path, selector=broken)
    assert policy.choose(_scope((b"accept-language", b"de"))) == "de"
    assert "locale_selector failed" in caplog.text


def test_numbers_are_grouped_as_the_language_writes_them() -> None:
    t = Messages({"too_long": Plural("{max} char", "at most {max} chars", "max")})
    assert t("too_long", max=10000) == "at most 10,000 chars"
    with using_locale("de"):
        assert t("too_long", max=10000) == "at most 10.000 chars"
    with using_locale("fr"):
        assert t("too_long", max=999) == "at most 999 chars"


def test_preloading_reads_the_catalogs_once() -> None:
    """The kit reads its languages' catalogs at start-up, in a thread; a request then
    only looks sentences up."""
    source = CatalogSource()
    t = Messages(catalogs=source)
    t.preload(["de", "ar"])
    assert set(source._loaded) >= {"de", "ar"}
    with using_locale("de"):
        assert t("required") != MESSAGES["required"]
