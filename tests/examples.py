"""The example apps in examples/, imported by name (they are not installed packages)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example(name: str) -> ModuleType:
    """`examples/<name>` as a module (pytest puts examples/ on the path the same way when
    it collects the examples' own tests)."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    return importlib.import_module(name)
