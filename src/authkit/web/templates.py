"""
The Jinja environment: the host's folders first, the package's templates last, so a host
overrides any file by putting `authkit/<same path>` in its own folder. Autoescaping is
on for HTML; a missing variable is an error, never a silent blank.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike

import jinja2

from .dates import register_date_filters
from .unbroken import register_unbroken_filter

__all__ = ["make_environment"]


def make_environment(template_dirs: Sequence[str | PathLike[str]] = ()) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(list(template_dirs))]
    loaders.append(jinja2.PackageLoader("authkit", "templates"))
    environment = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(
            ["html", "xml"], default_for_string=False, default=False
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    register_date_filters(environment)
    register_unbroken_filter(environment)
    return environment
