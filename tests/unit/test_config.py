"""
Tests for authkit.config: every bad setting stops construction with one sentence naming
its `AUTHKIT_` variable, `from_env` parses a plain mapping, and the secret key never
shows in a repr or a message.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from authkit import AuthKit
from authkit.config import MIN_SECRET_KEY_LENGTH, Settings
from authkit.errors import ConfigError

from ..conftest import TEST_SECRET

pytestmark = pytest.mark.anyio


def settings(**overrides: Any) -> Settings:
    return Settings(**{"secret_key": TEST_SECRET, **overrides})


def assert_one_sentence_naming(exc: pytest.ExceptionInfo[ConfigError], variable: str) -> str:
    message = str(exc.value)
    assert message.startswith(variable + " "), message
    assert message.endswith("."), message
    assert "\n" not in message, message
    # One sentence: no full stop followed by another sentence.
    assert not re.search(r"\.\s+[A-Z]", message), message
    assert TEST_SECRET not in message
    return message


# -- each bad setting ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"secret_key": "x" * (MIN_SECRET_KEY_LENGTH - 1)}, "AUTHKIT_SECRET_KEY"),
        ({"secret_key": ""}, "AUTHKIT_SECRET_KEY"),
        ({"database_url": "mysql://root@localhost/app"}, "AUTHKIT_DATABASE_URL"),
        ({"database_url": "sqlite:///app.db"}, "AUTHKIT_DATABASE_URL"),
        ({"database_url": "postgresql://u@localhost/app"}, "AUTHKIT_DATABASE_URL"),
        ({"database_schema": "public; drop table users"}, "AUTHKIT_DATABASE_SCHEMA"),
        ({"email_url": "smtp2://mail.example.com"}, "AUTHKIT_EMAIL_URL"),
        ({"email_url": "mailto:admin@example.com"}, "AUTHKIT_EMAIL_URL"),
        ({"email_url": ""}, "AUTHKIT_EMAIL_URL"),
        ({"base_url": "example.com"}, "AUTHKIT_BASE_URL"),
        ({"base_url": "ftp://example.com"}, "AUTHKIT_BASE_URL"),
        ({"base_url": "https://"}, "AUTHKIT_BASE_URL"),
        ({"base_url": "https://example.com/?next=/"}, "AUTHKIT_BASE_URL"),
        ({"session_token_lifetime": 0}, "AUTHKIT_SESSION_TOKEN_LIFETIME"),
        ({"session_token_lifetime": -60}, "AUTHKIT_SESSION_TOKEN_LIFETIME"),
        ({"session_token_lifetime": 3601}, "AUTHKIT_SESSION_TOKEN_LIFETIME"),
        ({"session_lifetime": 60}, "AUTHKIT_SESSION_LIFETIME"),
        ({"session_token_lifetime": 600, "session_lifetime": 300}, "AUTHKIT_SESSION_LIFETIME"),
        ({"session_lifetime": 401 * 24 * 3600}, "AUTHKIT_SESSION_LIFETIME"),
        ({"code_lifetime": 59}, "AUTHKIT_CODE_LIFETIME"),
        ({"password_min_length": 7}, "AUTHKIT_PASSWORD_MIN_LENGTH"),
        ({"password_min_length": 80, "password_max_length": 64}, "AUTHKIT_PASSWORD_MIN_LENGTH"),
        ({"password_hash_profile": "FAST"}, "AUTHKIT_PASSWORD_HASH_PROFILE"),
        ({"password_hash_concurrency": -1}, "AUTHKIT_PASSWORD_HASH_CONCURRENCY"),
        ({"name_fields": "sometimes"}, "AUTHKIT_NAME_FIELDS"),
        ({"after_sign_in_url": "https://evil.example/"}, "AUTHKIT_AFTER_SIGN_IN_URL"),
        ({"after_sign_in_url": "//evil.example/"}, "AUTHKIT_AFTER_SIGN_IN_URL"),
        ({"after_sign_in_url": "dashboard"}, "AUTHKIT_AFTER_SIGN_IN_URL"),
        ({"after_sign_out_url": "//evil.example"}, "AUTHKIT_AFTER_SIGN_OUT_URL"),
        ({"after_sign_out_url": "javascript:alert(1)"}, "AUTHKIT_AFTER_SIGN_OUT_URL"),
        ({"redis_url": "http://localhost:6379"}, "AUTHKIT_REDIS_URL"),
        ({"redis_url": "localhost:6379"}, "AUTHKIT_REDIS_URL"),
        ({"email_timeout": 0}, "AUTHKIT_EMAIL_TIMEOUT"),
    ],
)
def test_bad_setting_raises_one_sentence_naming_the_variable(
    overrides: dict[str, Any], variable: str
) -> None:
    """Each bad value stops construction with one sentence that names its AUTHKIT_ variable."""
    with pytest.raises(ConfigError) as exc:
        settings(**overrides)
    assert_one_sentence_naming(exc, variable)


def test_config_error_is_a_value_error() -> None:
    """Hosts that catch ValueError around configuration keep working."""
    with pytest.raises(ValueError, match="AUTHKIT_SECRET_KEY"):
        settings(secret_key="short")


def test_secret_key_of_exactly_the_minimum_length_is_accepted() -> None:
    """The length rule is at least 32 characters, not more than 32."""
    assert len(str(settings(secret_key="k" * MIN_SECRET_KEY_LENGTH).secret_key)) == 32


def test_good_settings_are_accepted_at_the_edges() -> None:
    """The documented bounds themselves are valid values."""
    s = settings(
        session_token_lifetime=3600,
        session_lifetime=3601,
        password_min_length=8,
        name_fields="required",
        after_sign_in_url="/app",
        after_sign_out_url="/",
        redis_url="rediss://cache.example:6380/0",
        base_url="https://example.com/",
        email_url="file:///tmp/mail",
    )
    assert s.is_https
    assert s.base_origin == "https://example.com"


def test_short_secret_key_message_says_how_to_make_one() -> None:
    """The message tells the operator the exact command that makes a good key."""
    with pytest.raises(ConfigError) as exc:
        settings(secret_key="too short")
    message = assert_one_sentence_naming(exc, "AUTHKIT_SECRET_KEY")
    assert "`authkit secret`" in message
    assert "too short" not in message


def test_database_url_message_hides_the_password() -> None:
    """A rejected database URL is echoed with its password masked."""
    with pytest.raises(ConfigError) as exc:
        settings(database_url="mysql://app:hunter2-secret@db.internal/app")
    message = assert_one_sentence_naming(exc, "AUTHKIT_DATABASE_URL")
    assert "hunter2-secret" not in message
    assert "db.internal" in message


def test_email_url_message_hides_the_password() -> None:
    """A rejected email URL is echoed with its SMTP password masked."""
    with pytest.raises(ConfigError) as exc:
        settings(email_url="smtpx://mailer:pa55word-secret@smtp.example:25")
    message = assert_one_sentence_naming(exc, "AUTHKIT_EMAIL_URL")
    assert "pa55word-secret" not in message


def test_settings_are_frozen() -> None:
    """Settings cannot be changed after validation (a later change would skip the checks)."""
    s = settings()
    with pytest.raises(AttributeError):
        s.session_token_lifetime = 0  # type: ignore[misc]


# -- the secret key never shows ------------------------------------------------------------


def test_repr_and_str_of_settings_do_not_reveal_the_secret_key() -> None:
    """Logging the settings object (or an AuthKit's) never prints the secret key."""
    s = settings()
    assert TEST_SECRET not in repr(s)
    assert TEST_SECRET not in str(s)
    assert TEST_SECRET not in repr(s.secret_key)
    assert TEST_SECRET not in repr(AuthKit(settings=s).settings)
    assert str(s.secret_key) == TEST_SECRET


def test_repr_of_settings_from_env_does_not_reveal_the_secret_key() -> None:
    """A secret read from the environment is wrapped as well."""
    s = Settings.from_env({"AUTHKIT_SECRET_KEY": TEST_SECRET})
    assert TEST_SECRET not in repr(s)


# -- from_env ------------------------------------------------------------------------------


def test_from_env_parses_strings_ints_floats_and_bools() -> None:
    """Every AUTHKIT_ variable is converted to its setting's type."""
    s = Settings.from_env(
        {
            "AUTHKIT_SECRET_KEY": TEST_SECRET,
            "AUTHKIT_DATABASE_URL": "postgresql+asyncpg://app@db/app",
            "AUTHKIT_BASE_URL": "https://example.com",
            "AUTHKIT_SESSION_TOKEN_LIFETIME": "120",
            "AUTHKIT_SESSION_LIFETIME": " 86400 ",
            "AUTHKIT_PASSWORD_MIN_LENGTH": "12",
            "AUTHKIT_AUTO_MIGRATE": "true",
            "AUTHKIT_EMAIL_TIMEOUT": "2.5",
            "AUTHKIT_NAME_FIELDS": "required",
            "AUTHKIT_REDIS_URL": "redis://localhost:6379/1",
            "PATH": "/usr/bin",
        }
    )
    assert s.database_url == "postgresql+asyncpg://app@db/app"
    assert s.session_token_lifetime == 120
    assert s.session_lifetime == 86400
    assert s.password_min_length == 12
    assert s.auto_migrate is True
    assert s.email_timeout == 2.5
    assert s.name_fields == "required"
    assert s.redis_url == "redis://localhost:6379/1"
    assert str(s.secret_key) == TEST_SECRET


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        *[("1", True), ("TRUE", True), ("yes", True), ("on", True)],
        *[("0", False), ("false", False), ("No", False), ("off", False), ("", False)],
    ],
)
def test_from_env_reads_booleans(raw: str, expected: bool) -> None:
    """The usual spellings of true and false are understood."""
    s = Settings.from_env({"AUTHKIT_SECRET_KEY": TEST_SECRET, "AUTHKIT_AUTO_MIGRATE": raw})
    assert s.auto_migrate is expected


def test_from_env_empty_optional_value_means_unset() -> None:
    """AUTHKIT_REDIS_URL= (empty) means no Redis, not an invalid URL."""
    s = Settings.from_env({"AUTHKIT_SECRET_KEY": TEST_SECRET, "AUTHKIT_REDIS_URL": ""})
    assert s.redis_url is None


@pytest.mark.parametrize(
    ("variable", "raw", "expected"),
    [
        ("AUTHKIT_SESSION_TOKEN_LIFETIME", "abc", "must be a whole number, not 'abc'."),
        ("AUTHKIT_SESSION_LIFETIME", "1.5", "must be a whole number, not '1.5'."),
        ("AUTHKIT_EMAIL_TIMEOUT", "soon", "must be a number, not 'soon'."),
        ("AUTHKIT_AUTO_MIGRATE", "maybe", "must be true or false, not 'maybe'."),
    ],
)
def test_from_env_unparsable_value_names_the_variable(
    variable: str, raw: str, expected: str
) -> None:
    """A value of the wrong type is refused with its variable name and the bad value."""
    with pytest.raises(ConfigError) as exc:
        Settings.from_env({"AUTHKIT_SECRET_KEY": TEST_SECRET, variable: raw})
    message = assert_one_sentence_naming(exc, variable)
    assert message == f"{variable} {expected}"


def test_from_env_out_of_range_int_names_the_variable() -> None:
    """A well-formed but invalid number is checked like a keyword argument."""
    with pytest.raises(ConfigError) as exc:
        Settings.from_env(
            {"AUTHKIT_SECRET_KEY": TEST_SECRET, "AUTHKIT_SESSION_TOKEN_LIFETIME": "0"}
        )
    assert_one_sentence_naming(exc, "AUTHKIT_SESSION_TOKEN_LIFETIME")


def test_from_env_without_secret_key_mentions_authkit_demo() -> None:
    """A missing secret key says what it is for and that only `authkit demo` makes one up."""
    with pytest.raises(ConfigError) as exc:
        Settings.from_env({"AUTHKIT_DATABASE_URL": "sqlite+aiosqlite:///app.db"})
    message = assert_one_sentence_naming(exc, "AUTHKIT_SECRET_KEY")
    assert "`authkit demo`" in message
    assert "not set" in message


def test_from_env_keyword_overrides_win_over_the_environment() -> None:
    """Keyword overrides replace variables, and may supply the secret key."""
    s = Settings.from_env(
        {"AUTHKIT_SESSION_TOKEN_LIFETIME": "120"},
        secret_key=TEST_SECRET,
        session_token_lifetime=30,
    )
    assert s.session_token_lifetime == 30


def test_from_env_reads_only_the_given_mapping() -> None:
    """An explicit mapping is the whole environment: os.environ is not consulted."""
    with pytest.raises(ConfigError, match="AUTHKIT_SECRET_KEY is not set"):
        Settings.from_env({})


# -- AuthKit -------------------------------------------------------------------------------


def test_authkit_with_bad_setting_fails_at_construction() -> None:
    """A bad keyword stops `AuthKit(...)` itself, before any request is served."""
    with pytest.raises(ConfigError) as exc:
        AuthKit(secret_key=TEST_SECRET, base_url="example.com")
    assert_one_sentence_naming(exc, "AUTHKIT_BASE_URL")


def test_authkit_with_short_secret_key_fails_at_construction() -> None:
    """The secret key is checked when the kit is built, not when the first token is signed."""
    with pytest.raises(ConfigError) as exc:
        AuthKit(secret_key="short")
    assert_one_sentence_naming(exc, "AUTHKIT_SECRET_KEY")


def test_authkit_with_unknown_keyword_fails_at_construction() -> None:
    """A misspelt setting fails at construction, naming the nearest setting, never a
    silently ignored value."""
    with pytest.raises(ConfigError, match="'sesion_lifetime': did you mean 'session_lifetime'"):
        AuthKit(secret_key=TEST_SECRET, sesion_lifetime=60)  # type: ignore[call-arg]


async def test_authkit_construction_does_not_touch_the_database() -> None:
    """Building a kit for an unreachable database succeeds: connecting is start-up's job."""
    kit = AuthKit(
        secret_key=TEST_SECRET, database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none"
    )
    assert kit.is_started is False
    await kit.aclose()


async def test_authkit_from_env_builds_a_kit() -> None:
    """`AuthKit.from_env(environ)` reads the mapping, and keyword overrides win."""
    kit = AuthKit.from_env(
        {
            "AUTHKIT_SECRET_KEY": TEST_SECRET,
            "AUTHKIT_BASE_URL": "https://example.com",
            "AUTHKIT_SESSION_TOKEN_LIFETIME": "90",
            "AUTHKIT_APP_NAME": "Example",
        },
        app_name="Overridden",
    )
    assert kit.settings.session_token_lifetime == 90
    assert kit.settings.app_name == "Overridden"
    assert kit.issuer == "https://example.com/auth"
    await kit.aclose()


def test_authkit_from_env_with_bad_variable_fails_at_construction() -> None:
    """`AuthKit.from_env` raises the same one-sentence ConfigError."""
    with pytest.raises(ConfigError) as exc:
        AuthKit.from_env({"AUTHKIT_SECRET_KEY": TEST_SECRET, "AUTHKIT_REDIS_URL": "memcached://x"})
    assert_one_sentence_naming(exc, "AUTHKIT_REDIS_URL")
