"""
The shipped catalogs: every sentence of the table translated in every language authkit
ships (no English slipping through), each translation keeping the English's fields, the
compiled .mo files current with their .po, and the tools (`authkit i18n ...`) that make
and keep them.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from authkit.cli import main
from authkit.i18n import SHIPPED_LOCALES, CatalogSource, Plural, using_locale
from authkit.i18n.catalogs import PACKAGE_LOCALE_DIR
from authkit.i18n.tooling import missing, template_catalog
from authkit.messages import MESSAGES, Messages

TRANSLATED = [locale for locale in SHIPPED_LOCALES if locale != "en"]
_FIELD = re.compile(r"\{([a-z_]+)\}")


def _po(locale: str) -> Path:
    return PACKAGE_LOCALE_DIR / locale / "LC_MESSAGES" / "authkit.po"


def test_the_template_is_current_with_the_table() -> None:
    """`authkit i18n extract` was run after the last change to a sentence."""
    with (PACKAGE_LOCALE_DIR / "authkit.pot").open("rb") as handle:
        shipped = read_po(handle)
    wanted = {
        (m.context, m.id if isinstance(m.id, str) else tuple(m.id))
        for m in template_catalog()
        if m.id
    }
    have = {(m.context, m.id if isinstance(m.id, str) else tuple(m.id)) for m in shipped if m.id}
    assert sorted(wanted ^ have, key=str) == []


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_sentence_is_translated_in_every_shipped_language(locale: str) -> None:
    assert _po(locale).is_file(), f"no catalog for {locale}"
    gaps = [gap for gap in missing() if gap.locale == locale]
    assert [f"{gap.code}: {gap.why}" for gap in gaps] == []


@pytest.mark.parametrize("locale", TRANSLATED)
def test_translations_keep_the_fields_of_the_english(locale: str) -> None:
    with _po(locale).open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    wrong = []
    for message in catalog:
        if not message.id or not message.context:
            continue
        source = MESSAGES[message.context]
        english = " ".join(source[:2]) if isinstance(source, Plural) else source
        allowed = set(_FIELD.findall(english))
        forms = message.string if isinstance(message.string, tuple | list) else [message.string]
        for form in forms:
            fields = set(_FIELD.findall(form))
            # A plural form may say its number in words (Arabic's "two days").
            if not fields <= allowed or (not isinstance(source, Plural) and fields != allowed):
                wrong.append(f"{message.context}: {form}")
    assert wrong == []


@pytest.mark.parametrize("locale", TRANSLATED)
def test_the_compiled_catalog_is_current_with_its_source(locale: str) -> None:
    with _po(locale).open("rb") as handle:
        source = read_po(handle, locale=locale)
    with _po(locale).with_suffix(".mo").open("rb") as handle:
        compiled = read_mo(handle)

    def entries(catalog: object) -> set[tuple[object, ...]]:
        def plain(value: object) -> object:  # .po reads plurals as tuples, .mo as lists
            return tuple(value) if isinstance(value, list | tuple) else value

        return {
            (m.context, plain(m.id), plain(m.string))
            for m in catalog  # type: ignore[attr-defined]
            if m.id and m.string and not m.fuzzy
        }

    assert entries(source) == entries(compiled), "run `authkit i18n compile`"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_sentence_renders_in_every_shipped_language(locale: str) -> None:
    """Each translation formats with the fields the code gives it: no brace is left."""
    t = Messages()
    with using_locale(locale):
        for code, source in MESSAGES.items():
            fields = {name: 3 for name in _FIELD.findall(str(source))}
            text = t(code, **fields)
            assert "{" not in text, (code, text)


def test_the_tools_make_update_compile_and_check_a_hosts_language(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "locale"
    assert main(["i18n", "extract", "--dir", str(folder)]) == 0
    assert (folder / "authkit.pot").is_file()
    assert main(["i18n", "init", "it", "--dir", str(folder)]) == 0
    assert main(["i18n", "init", "it", "--dir", str(folder)]) == 2  # there already
    assert main(["i18n", "check", "--dir", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "it: required: not translated" in out
    # Translate one sentence, compile, and a kit reads it from the host's folder.
    po = folder / "it" / "LC_MESSAGES" / "authkit.po"
    text = po.read_text()
    text = text.replace(
        'msgctxt "required"\nmsgid "This field is required."\nmsgstr ""',
        'msgctxt "required"\nmsgid "This field is required."\nmsgstr "Campo obbligatorio."',
    )
    po.write_text(text)
    assert main(["i18n", "update", "--dir", str(folder)]) == 0
    assert main(["i18n", "compile", "--dir", str(folder)]) == 0
    t = Messages(catalogs=CatalogSource([folder]))
    with using_locale("it"):
        assert t("required") == "Campo obbligatorio."
        assert t("email_invalid") == MESSAGES["email_invalid"]


def test_a_translation_whose_english_changed_turns_fuzzy_on_update(tmp_path: Path) -> None:
    folder = tmp_path / "locale"
    target = folder / "de" / "LC_MESSAGES"
    target.mkdir(parents=True)
    if _po("de").is_file():
        shutil.copy(_po("de"), target / "authkit.po")
    else:
        assert main(["i18n", "init", "de", "--dir", str(folder)]) == 0
    po = target / "authkit.po"
    po.write_text(
        po.read_text().replace('msgid "This field is required."', 'msgid "This is required."')
    )
    assert main(["i18n", "update", "--dir", str(folder)]) == 0
    gaps = {gap.code: gap.why for gap in missing(folder)}
    assert gaps.get("required") in {"fuzzy (the English changed)", "not translated"}


def test_the_wheel_ships_every_catalog() -> None:
    """pyproject's package data names every file under locale/ (setuptools leaves out
    what it does not match)."""
    import tomllib
    from fnmatch import fnmatch

    project = Path(__file__).resolve().parents[2]
    patterns = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["authkit"]
    package = project / "src" / "authkit"
    files = [p.relative_to(package).as_posix() for p in (package / "locale").rglob("*.*")]
    assert files
    assert [f for f in files if not any(fnmatch(f, pattern) for pattern in patterns)] == []
