"""
Organization roles and their permissions, as Clerk names them: roles are `org:<name>`,
permissions `org:<feature>:<action>`. Two roles are built in: `org:admin` (every
permission there is) and `org:member` (may see the members). A site adds roles, or
gives the built-in member role more, with `AuthKit(organization_roles={...})` or
`AUTHKIT_ORGANIZATION_ROLES` (inline JSON or a .toml/.json file):

    [roles."org:billing"]
    name = "Billing"
    permissions = ["org:invoices:read", "org:invoices:manage"]

    [roles."org:member"]
    permissions = ["org:invoices:read"]

The system permissions (`org:sys_*`) guard authkit's own pages: the profile, members and
domains of an organization.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ..config_files import read_table
from ..errors import ConfigError
from ..i18n.phrase import Phrase

__all__ = [
    "ADMIN",
    "DELETE_ORGANIZATION",
    "MANAGE_DOMAINS",
    "MANAGE_MEMBERS",
    "MANAGE_PROFILE",
    "MEMBER",
    "PERMISSIONS_CLAIM_BUDGET",
    "READ_DOMAINS",
    "READ_MEMBERS",
    "SYSTEM_PERMISSIONS",
    "Role",
    "Roles",
    "load_roles",
    "permissions_claim",
]

SETTING = "AUTHKIT_ORGANIZATION_ROLES"
ADMIN = "org:admin"
MEMBER = "org:member"

MANAGE_PROFILE = "org:sys_profile:manage"
DELETE_ORGANIZATION = "org:sys_profile:delete"
READ_MEMBERS = "org:sys_memberships:read"
MANAGE_MEMBERS = "org:sys_memberships:manage"
READ_DOMAINS = "org:sys_domains:read"
MANAGE_DOMAINS = "org:sys_domains:manage"
SYSTEM_PERMISSIONS = (
    MANAGE_PROFILE,
    DELETE_ORGANIZATION,
    READ_MEMBERS,
    MANAGE_MEMBERS,
    READ_DOMAINS,
    MANAGE_DOMAINS,
)

_ROLE = re.compile(r"org:[a-z0-9_]{1,40}")
_PERMISSION = re.compile(r"org:[a-z0-9_]{1,40}:[a-z0-9_]{1,40}")
_MAX_ROLES = 50
_MAX_PERMISSIONS = 100
#: The most bytes a role's permissions take in the session token's `o.per`: the cookie
#: holding the token must stay under 4 KB (jwt_templates/session_claims.py counts it).
PERMISSIONS_CLAIM_BUDGET = 300


@dataclass(frozen=True, slots=True)
class Role:
    key: str
    name: str
    description: str
    permissions: frozenset[str]
    #: A built-in role's name in the message table, when the settings give none: shown
    #: in the reader's language.
    name_code: str | None = None

    @property
    def short_key(self) -> str:
        """The key without `org:`, as the session token's `o.rol` carries it."""
        return self.key.removeprefix("org:")


class Roles:
    """The roles a site has, in the order its pages list them (admin first)."""

    def __init__(self, roles: Iterable[Role]) -> None:
        self._by_key = {role.key: role for role in roles}
        #: The message table (set by the kit): built-in names in the reader's language.
        self.say: Callable[[str], str] | None = None

    def __iter__(self) -> Iterator[Role]:
        return iter(self._by_key.values())

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def get(self, key: str) -> Role | None:
        return self._by_key.get(key)

    def permissions_of(self, key: str) -> frozenset[str]:
        """A role's permissions; none for a role the settings no longer name."""
        role = self._by_key.get(key)
        return role.permissions if role is not None else frozenset()

    def can(self, key: str, permission: str) -> bool:
        return permission in self.permissions_of(key)

    def label_of(self, key: str) -> Phrase | str:
        """A role's name to be said later, in the language of whatever shows it (an email
        in its recipient's): a phrase of the table for a built-in name."""
        role = self._by_key.get(key)
        if role is not None and role.name_code is not None:
            return Phrase(role.name_code)
        return self.name_of(key)

    def name_of(self, key: str) -> str:
        role = self._by_key.get(key)
        if role is None:
            return key.removeprefix("org:").replace("_", " ")
        if role.name_code is not None and self.say is not None:
            return self.say(role.name_code)
        return role.name


def load_roles(source: Mapping[str, Any] | str | None) -> Roles:
    """
    The built-in roles plus those `source` adds (a mapping, inline JSON, or the path of a
    .toml/.json file whose `roles` table maps role keys to `{name, description,
    permissions}`).

    Raises:
        ConfigError: a malformed key or permission, an unknown system permission, or
            too many of either, in one sentence naming it.
    """
    table = _table(source)
    if len(table) > _MAX_ROLES:
        raise ConfigError(f"{SETTING}: at most {_MAX_ROLES} roles.")
    extra: dict[str, tuple[str, str, frozenset[str]]] = {}
    for key, spec in table.items():
        where = f"{SETTING}: role {key!r}"
        if not isinstance(key, str) or not _ROLE.fullmatch(key):
            raise ConfigError(f"{where} must look like org:<name> (lower-case letters, digits, _).")
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{where} must be a table with `permissions` (and a `name`).")
        unknown = set(spec) - {"name", "description", "permissions"}
        if unknown:
            raise ConfigError(f"{where} has no setting {sorted(unknown)[0]!r}.")
        name = spec.get("name", "")
        description = spec.get("description", "")
        if not isinstance(name, str) or not isinstance(description, str) or len(name) > 60:
            raise ConfigError(f"{where}: `name` and `description` must be text (name ≤ 60).")
        extra[key] = (name, description, _permissions(spec.get("permissions", []), where))
    custom = frozenset().union(*(perms for _, _, perms in extra.values()))
    admin_name, admin_text, _ = extra.pop(ADMIN, ("", "", frozenset()))
    member_name, member_text, member_extra = extra.pop(MEMBER, ("", "", frozenset()))
    roles = [
        Role(
            ADMIN,
            admin_name or "Admin",
            admin_text or "Can manage the organization, its members and its domains.",
            frozenset(SYSTEM_PERMISSIONS) | custom,
            None if admin_name else "org_role_admin",
        ),
        Role(
            MEMBER,
            member_name or "Member",
            member_text or "Can see the other members.",
            frozenset({READ_MEMBERS}) | member_extra,
            None if member_name else "org_role_member",
        ),
    ]
    for key, (name, description, permissions) in extra.items():
        fallback = key.removeprefix("org:").replace("_", " ").capitalize()
        roles.append(Role(key, name or fallback, description, permissions))
    for role in roles:
        size = len(permissions_claim(role.permissions))
        if size > PERMISSIONS_CLAIM_BUDGET:
            raise ConfigError(
                f"{SETTING}: the permissions of {role.key!r} take {size} bytes of the session "
                f"token (the admin role has every permission); at most "
                f"{PERMISSIONS_CLAIM_BUDGET}: use fewer or shorter names."
            )
    return Roles(roles)


def permissions_claim(permissions: Iterable[str]) -> str:
    """The session token's `o.per`: the permissions without `org:`, sorted, by commas."""
    return ",".join(sorted(p.removeprefix("org:") for p in permissions))


def _table(source: Mapping[str, Any] | str | None) -> Mapping[str, Any]:
    if source is None or source == "":
        return {}
    if isinstance(source, str):
        if source.lstrip().startswith("{"):
            try:
                loaded = json.loads(source)
            except ValueError as exc:
                raise ConfigError(f"{SETTING} is not valid JSON: {exc}.") from None
        else:
            loaded = read_table(source, setting=SETTING)
        if not isinstance(loaded, Mapping):
            raise ConfigError(f"{SETTING} must hold a table of roles.")
        source = loaded
    roles = source.get("roles", source) if isinstance(source.get("roles"), Mapping) else source
    return roles


def _permissions(value: Any, where: str) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ConfigError(f"{where}: `permissions` must be a list.")
    if len(value) > _MAX_PERMISSIONS:
        raise ConfigError(f"{where}: at most {_MAX_PERMISSIONS} permissions.")
    for permission in value:
        if not isinstance(permission, str) or not _PERMISSION.fullmatch(permission):
            raise ConfigError(
                f"{where}: permission {permission!r} must look like org:<feature>:<action>."
            )
        if permission.startswith("org:sys_") and permission not in SYSTEM_PERMISSIONS:
            raise ConfigError(
                f"{where}: {permission!r} is not a system permission; they are "
                f"{', '.join(SYSTEM_PERMISSIONS)}."
            )
    return frozenset(value)
