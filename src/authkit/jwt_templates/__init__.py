"""JWT templates: tokens shaped for third parties (shortcodes.py, the grammar;
templates.py, the settings and presets; keys.py, custom signing keys; minting.py)."""

from __future__ import annotations

from .minting import mint_template_token, template_context
from .templates import PRESETS, JwtTemplate, load_templates

__all__ = ["PRESETS", "JwtTemplate", "load_templates", "mint_template_token", "template_context"]
