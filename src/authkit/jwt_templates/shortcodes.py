"""
The claims grammar of JWT templates, as Clerk's: a template's claims are JSON, and its
strings may hold shortcodes in double braces.

- `"{{user.public_metadata}}"`, a shortcode alone, keeps the JSON type of its value
  (an object stays an object, a number a number);
- `"Hello {{user.first_name}}"`, a shortcode inside a string, interpolates its value as
  text (null as nothing, an object or list as its JSON);
- `{{user.public_metadata.plan || 'free'}}` takes the first operand that is not null;
  operands are shortcodes, quoted strings ('...' or "..."), numbers, true, false, null;
- a dot path into metadata that is not there is null.

Templates are compiled once, when authkit starts: an unknown root (`{{team.id}}`) or
user field (`{{user.frist_name}}`) is a `ConfigError` naming it. `{{org.*}}` reads the
session's active organization. Rendering builds Python
values that are then serialised as JSON, so no value can break out of its string.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

__all__ = [
    "METADATA_FIELDS",
    "ORG_FIELDS",
    "ROOTS",
    "SESSION_FIELDS",
    "USER_FIELDS",
    "Compiled",
    "compile_claims",
    "render_claims",
]

#: What `{{user.<field>}}` may name: Clerk's user shortcodes that authkit has.
USER_FIELDS = frozenset(
    {
        "id",
        "first_name",
        "last_name",
        "full_name",
        "primary_email_address",
        "email_verified",
        "image_url",
        "created_at",
        "public_metadata",
        "unsafe_metadata",
        "private_metadata",
    }
)
#: The user fields that are JSON objects a dot path may go into.
METADATA_FIELDS = frozenset({"public_metadata", "unsafe_metadata", "private_metadata"})
SESSION_FIELDS = frozenset({"id"})
#: What `{{org.<field>}}` may name: the session's active organization (all null for
#: the personal account). `role` is the full key (`org:admin`); `permissions` a list.
ORG_FIELDS = frozenset(
    {"id", "name", "slug", "image_url", "role", "permissions", "public_metadata"}
)
#: The roots a shortcode may start from, and the fields each has.
ROOTS: Mapping[str, frozenset[str]] = {
    "user": USER_FIELDS,
    "session": SESSION_FIELDS,
    "org": ORG_FIELDS,
}

_SHORTCODE = re.compile(r"\{\{(.*?)\}\}", re.S)
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_KEYWORDS: Mapping[str, Any] = {"true": True, "false": False, "null": None}


@dataclass(frozen=True, slots=True)
class _Path:
    """A shortcode's path: root, field, then keys into a metadata object."""

    root: str
    field: str
    keys: tuple[str, ...] = ()

    def resolve(self, context: Mapping[str, Mapping[str, Any]]) -> Any:
        value = context.get(self.root, {}).get(self.field)
        for key in self.keys:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return value


@dataclass(frozen=True, slots=True)
class _Literal:
    value: Any

    def resolve(self, context: Mapping[str, Mapping[str, Any]]) -> Any:
        return self.value


@dataclass(frozen=True, slots=True)
class _Expression:
    """`a || b || 'c'`: the first operand that is not null."""

    operands: tuple[_Path | _Literal, ...]

    def resolve(self, context: Mapping[str, Mapping[str, Any]]) -> Any:
        for operand in self.operands:
            value = operand.resolve(context)
            if value is not None:
                return value
        return None


@dataclass(frozen=True, slots=True)
class _Interpolated:
    """A string with shortcodes in it: each one's value as text."""

    parts: tuple[str | _Expression, ...]

    def resolve(self, context: Mapping[str, Mapping[str, Any]]) -> str:
        return "".join(
            part if isinstance(part, str) else _as_text(part.resolve(context))
            for part in self.parts
        )


@dataclass(frozen=True, slots=True)
class Read:
    """One shortcode operand's read: its `root.field`, whether it is interpolated into
    text, and the top-level claim it sits in."""

    path: str
    in_text: bool
    claim: str


@dataclass(frozen=True, slots=True)
class Compiled:
    """A template's claims, compiled: `render` them for a user and session."""

    tree: Any
    #: Every read of every shortcode operand, in order.
    read_list: tuple[Read, ...]

    @property
    def reads(self) -> frozenset[str]:
        """Every path the template reads, as `root.field` (`user.private_metadata`)."""
        return frozenset(r.path for r in self.read_list)

    def reads_count(self, path: str, *, in_text: bool | None = None) -> int:
        """How many shortcode operands read `path`; `in_text` counts only those inside
        (True) or outside (False) a string."""
        return sum(
            1
            for r in self.read_list
            if r.path == path and (in_text is None or r.in_text == in_text)
        )

    def claims_reading(self, *paths: str) -> frozenset[str]:
        """The top-level claims that read any of `paths`."""
        return frozenset(r.claim for r in self.read_list if r.path in paths)

    def render(self, context: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        rendered = _render(self.tree, context)
        assert isinstance(rendered, dict)
        return rendered


def compile_claims(claims: Mapping[str, Any], *, where: str) -> Compiled:
    """
    Compile a template's claims; `where` names the template in error messages.

    Raises:
        ConfigError: a shortcode that does not parse, or names an unknown root or field.
    """
    reads: list[Read] = []
    tree = {
        str(claim): _compile(value, where=where, reads=reads, claim=str(claim))
        for claim, value in claims.items()
    }
    return Compiled(tree, tuple(reads))


def render_claims(compiled: Compiled, context: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The claims for `context` ({"user": {...}, "session": {...}}), as JSON values."""
    return compiled.render(context)


def _compile(value: Any, *, where: str, reads: list[Read], claim: str) -> Any:
    if isinstance(value, Mapping):
        return {
            str(k): _compile(v, where=where, reads=reads, claim=claim) for k, v in value.items()
        }
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_compile(v, where=where, reads=reads, claim=claim) for v in value]
    if isinstance(value, str):
        return _compile_string(value, where=where, reads=reads, claim=claim)
    if value is None or isinstance(value, (bool, int, float)):
        return _Literal(value)
    raise ConfigError(f"JWT template {where}: {value!r} is not a JSON value.")


def _compile_string(text: str, *, where: str, reads: list[Read], claim: str) -> Any:
    matches = list(_SHORTCODE.finditer(text))
    if not matches:
        if "{{" in text:
            raise ConfigError(f"JWT template {where}: an unclosed shortcode in {text!r}.")
        return _Literal(text)
    if len(matches) == 1 and matches[0].span() == (0, len(text)):
        # A shortcode alone keeps its value's JSON type.
        return _expression(matches[0].group(1), where=where, reads=reads, at=(claim, False))
    parts: list[str | _Expression] = []
    at = 0
    for match in matches:
        if match.start() > at:
            parts.append(text[at : match.start()])
        parts.append(_expression(match.group(1), where=where, reads=reads, at=(claim, True)))
        at = match.end()
    if at < len(text):
        if "{{" in text[at:]:
            raise ConfigError(f"JWT template {where}: an unclosed shortcode in {text!r}.")
        parts.append(text[at:])
    return _Interpolated(tuple(parts))


def _expression(source: str, *, where: str, reads: list[Read], at: tuple[str, bool]) -> _Expression:
    operands = [
        _operand(piece.strip(), where=where, reads=reads, at=at) for piece in _split(source)
    ]
    return _Expression(tuple(operands))


def _split(source: str) -> list[str]:
    """The operands of `a || b`, splitting only outside quotes."""
    pieces: list[str] = []
    current: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(source):
        ch = source[i]
        if quote is not None:
            current.append(ch)
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif source.startswith("||", i):
            pieces.append("".join(current))
            current = []
            i += 2
            continue
        else:
            current.append(ch)
        i += 1
    pieces.append("".join(current))
    return pieces


def _operand(
    piece: str, *, where: str, reads: list[Read], at: tuple[str, bool]
) -> _Path | _Literal:
    if not piece:
        raise ConfigError(f"JWT template {where}: an empty operand in a shortcode.")
    if len(piece) >= 2 and piece[0] == piece[-1] and piece[0] in "'\"":
        inner = piece[1:-1]
        if piece[0] in inner:
            raise ConfigError(f"JWT template {where}: a stray quote in {piece}.")
        return _Literal(inner)
    if piece in _KEYWORDS:
        return _Literal(_KEYWORDS[piece])
    if _NUMBER.fullmatch(piece):
        number = json.loads(piece)
        if isinstance(number, float) and not math.isfinite(number):
            raise ConfigError(f"JWT template {where}: the number {piece} is out of range.")
        return _Literal(number)
    if not _PATH.fullmatch(piece):
        raise ConfigError(f"JWT template {where}: {{{{{piece}}}}} is not a shortcode.")
    root, _, rest = piece.partition(".")
    if root not in ROOTS:
        known = ", ".join(sorted(ROOTS))
        raise ConfigError(
            f"JWT template {where}: unknown shortcode root {root!r} in {{{{{piece}}}}} "
            f"(the roots are {known})."
        )
    field, *keys = rest.split(".") if rest else [""]
    if field not in ROOTS[root]:
        raise ConfigError(
            f"JWT template {where}: unknown {root} field {field!r} in {{{{{piece}}}}}."
        )
    if keys and field not in METADATA_FIELDS:
        raise ConfigError(
            f"JWT template {where}: {{{{{piece}}}}} goes into {root}.{field}, which is not "
            "a metadata object."
        )
    claim, in_text = at
    reads.append(Read(f"{root}.{field}", in_text, claim))
    return _Path(root, field, tuple(keys))


def _render(node: Any, context: Mapping[str, Mapping[str, Any]]) -> Any:
    if isinstance(node, dict):
        return {k: _render(v, context) for k, v in node.items()}
    if isinstance(node, list):
        return [_render(v, context) for v in node]
    return node.resolve(context)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
