"""Reading a setting's TOML or JSON file (`AUTHKIT_JWT_TEMPLATES`, `AUTHKIT_WEBHOOKS`,
`AUTHKIT_SESSION_CLAIMS`): a table of settings, or one sentence naming what is wrong."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = ["read_table"]


def read_table(path: str, *, setting: str) -> Mapping[str, Any]:
    """
    The table in the .toml or .json file at `path`.

    Raises:
        ConfigError: the file cannot be read, is not text, does not parse, holds
            something other than a table, or is neither .toml nor .json.
    """
    file = Path(path).expanduser()
    if file.suffix not in (".toml", ".json"):
        raise ConfigError(f"{setting} must name a .toml or .json file, not {path!r}.")
    try:
        text = file.read_text()
    except UnicodeDecodeError:
        raise ConfigError(f"{setting}: {path!r} is not text.") from None
    except OSError as exc:
        raise ConfigError(f"{setting}: cannot read {path!r} ({exc.strerror}).") from None
    try:
        loaded = tomllib.loads(text) if file.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise ConfigError(f"{setting}: {path!r} does not parse: {exc}.") from None
    if not isinstance(loaded, Mapping):
        raise ConfigError(f"{setting}: {path!r} must hold a table (a JSON object).")
    return loaded
