"""
Themes: a few named values become the `--ak-*` CSS custom properties that authkit.css
uses everywhere. They are served as a small stylesheet (`/theme.css`), never as an
inline style, so the strict Content-Security-Policy holds on every page.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Literal

from .errors import ConfigError

__all__ = ["THEME_ENV_PREFIX", "Theme"]

THEME_ENV_PREFIX = "AUTHKIT_THEME_"
#: What a CSS value may contain: colours, lengths, font lists. No `;{}<>\` or url(),
#: so a theme value can never escape its declaration.
_SAFE_VALUE = re.compile(r"^[#\w\s.,%()'\"+-]{1,200}$")
_COLOR_KEYS = (
    "primary",
    "primary_text",
    "background",
    "surface",
    "text",
    "muted",
    "danger",
    "success",
    "border",
)

Mode = Literal["auto", "light", "dark"]


@dataclass(frozen=True, kw_only=True)
class Theme:
    """
    The look of every component. Colours come in a light and a dark set; `mode` picks
    one, or `auto` follows the visitor's `prefers-color-scheme`.

        AuthKit(theme={"color_primary": "#0f766e", "radius": "0.75rem", "mode": "auto"})
    """

    mode: Mode = "auto"
    logo_url: str = ""
    #: The sub-app pages' tab icon (the site's own); authkit's neutral mark otherwise.
    favicon_url: str = ""
    color_primary: str = ""
    color_primary_text: str = ""
    color_background: str = ""
    color_surface: str = ""
    color_text: str = ""
    color_muted: str = ""
    color_danger: str = ""
    color_success: str = ""
    color_border: str = ""
    dark_color_primary: str = ""
    dark_color_primary_text: str = ""
    dark_color_background: str = ""
    dark_color_surface: str = ""
    dark_color_text: str = ""
    dark_color_muted: str = ""
    dark_color_danger: str = ""
    dark_color_success: str = ""
    dark_color_border: str = ""
    radius: str = ""
    font: str = ""
    font_size: str = ""
    spacing: str = ""
    _css: str = field(default="", init=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in ("auto", "light", "dark"):
            raise ConfigError("AUTHKIT_THEME_MODE must be auto, light or dark.")
        for name in ("logo_url", "favicon_url"):
            value = getattr(self, name)
            if value and not re.match(r"^(/|https://)[^\s\"'<>]{0,500}$", value):
                raise ConfigError(
                    f"AUTHKIT_THEME_{name.upper()} must be a path or an https:// URL."
                )
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("mode", "logo_url", "favicon_url", "_css") or not value:
                continue
            if not _SAFE_VALUE.match(value) or "url(" in value.lower():
                raise ConfigError(
                    f"AUTHKIT_THEME_{f.name.upper()} is not a plain CSS value: {value!r}."
                )
        object.__setattr__(self, "_css", self._build_css())

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> Theme:
        known = {f.name for f in fields(cls) if f.init}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"Unknown theme setting {unknown[0]!r}; known: {', '.join(sorted(known))}."
            )
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Theme:
        return cls.from_mapping(
            {
                key.removeprefix(THEME_ENV_PREFIX).lower(): value
                for key, value in environ.items()
                if key.startswith(THEME_ENV_PREFIX)
            }
        )

    def values(self) -> dict[str, str]:
        """The settings given (not the defaults), as a mapping."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.init and getattr(self, f.name) != f.default
        }

    @property
    def css(self) -> str:
        """The stylesheet: overrides of authkit.css's variables, light then dark."""
        return self._css

    @property
    def version(self) -> str:
        """Changes whenever the stylesheet does (cache busting)."""
        return hashlib.sha256(self._css.encode()).hexdigest()[:12]

    def _build_css(self) -> str:
        light = [
            f"--ak-color-{k.replace('_', '-')}: {getattr(self, f'color_{k}')};"
            for k in _COLOR_KEYS
            if getattr(self, f"color_{k}")
        ]
        for name in ("radius", "font", "font_size", "spacing"):
            if value := getattr(self, name):
                light.append(f"--ak-{name.replace('_', '-')}: {value};")
        dark = [
            f"--ak-color-{k.replace('_', '-')}: {getattr(self, f'dark_color_{k}')};"
            for k in _COLOR_KEYS
            if getattr(self, f"dark_color_{k}")
        ]
        parts = []
        if light:
            # Forced-light components re-declare the light set: the overrides go there too.
            parts.append(':root, [data-ak-theme="light"] {\n  ' + "\n  ".join(light) + "\n}")
        if dark:
            body = "\n  ".join(dark)
            parts.append(
                "@media (prefers-color-scheme: dark) {\n"
                f'  :root:not([data-ak-theme="light"]) {{\n    {body}\n  }}\n}}'
            )
            parts.append(f':root[data-ak-theme="dark"], [data-ak-theme="dark"] {{\n  {body}\n}}')
        return "\n".join(parts) + "\n"
