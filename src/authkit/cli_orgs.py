"""
`authkit orgs ...`: organizations from the command line, acting as the site itself (no
member's permission needed; the rules still hold: a last admin kept, limits, mail,
audit, webhooks). An organization is named by its id or its slug, a user by id or email.
A refused change is one sentence on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from .app import AuthKit
from .errors import FlowError
from .flows import admin
from .flows.organizations import Organization

__all__ = ["add_commands"]

WithKit = Callable[[Callable[[AuthKit], Coroutine[Any, Any, int]]], int]
Command = Callable[[AuthKit, argparse.Namespace], Awaitable[int]]


def add_commands(commands: Any, with_kit: WithKit) -> None:
    """Add `orgs` and its commands to the `authkit` parser's `commands`."""
    orgs = commands.add_parser("orgs", help="manage organizations")
    sub = orgs.add_subparsers(title="orgs")

    def command(name: str, summary: str, run: Command) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(name, help=summary)
        parser.set_defaults(run=lambda args: with_kit(lambda kit: _refusing(run, kit, args)))
        return parser

    listing = command("list", "list organizations by name", _list)
    listing.add_argument("--search", help="part of a name or a slug")
    listing.add_argument("--limit", type=int, default=100)
    create = command("create", "create an organization", _create)
    create.add_argument("name")
    create.add_argument("--slug", help="the address of its pages (default: from the name)")
    create.add_argument("--admin", help="user id or email address of its first admin")
    delete = command("delete", "delete an organization with its members and invitations", _delete)
    delete.add_argument("org", help="organization id or slug")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    members = command("members", "list an organization's members", _members)
    members.add_argument("org", help="organization id or slug")
    add = command("add-member", "add a user to an organization", _add_member)
    add.add_argument("org", help="organization id or slug")
    add.add_argument("user", help="user id or email address")
    add.add_argument("--role", default="org:member")
    remove = command("remove-member", "take a user out of an organization", _remove_member)
    remove.add_argument("org", help="organization id or slug")
    remove.add_argument("user", help="user id or email address")
    role = command("set-role", "give a member another role", _set_role)
    role.add_argument("org", help="organization id or slug")
    role.add_argument("user", help="user id or email address")
    role.add_argument("role", help="org:admin, org:member or a custom role")
    invite = command("invite", "email an invitation to join", _invite)
    invite.add_argument("org", help="organization id or slug")
    invite.add_argument("email")
    invite.add_argument("--role", default="org:member")
    domain = command("add-domain", "add a verified domain (the site vouches for it)", _add_domain)
    domain.add_argument("org", help="organization id or slug")
    domain.add_argument("domain")
    domain.add_argument(
        "--join", action="store_true", help="people there join at once (default: are invited)"
    )


async def _refusing(run: Command, kit: AuthKit, args: argparse.Namespace) -> int:
    try:
        return await run(kit, args)
    except FlowError as exc:
        print(f"authkit: {kit.services.messages(exc.code, **exc.params)}", file=sys.stderr)
        return 1


async def _organization(kit: AuthKit, name: str) -> Organization | None:
    found = await kit.organizations.get(name) if name.startswith("org_") else None
    found = found or await kit.organizations.get_by_slug(name.lower())
    if found is None:
        print(f"authkit: no organization {name!r}.", file=sys.stderr)
    return found


async def _user_id(kit: AuthKit, who: str) -> str | None:
    user_id = await admin.find_user_id(kit.services, who)
    if user_id is None:
        print(f"authkit: no user {who!r}.", file=sys.stderr)
    return user_id


async def _organization_and_user(
    kit: AuthKit, args: argparse.Namespace
) -> tuple[Organization, str] | None:
    """`args.org` and `args.user`, each said on stderr when not found."""
    org = await _organization(kit, args.org)
    user_id = await _user_id(kit, args.user) if org else None
    return None if org is None or user_id is None else (org, user_id)


async def _list(kit: AuthKit, args: argparse.Namespace) -> int:
    found = await kit.organizations.list(search=args.search, limit=args.limit)
    print(f"{'id':<32} {'slug':<24} {'name':<32} created")
    for org in found:
        created = org.created_at.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{org.id:<32} {org.slug:<24} {org.name:<32} {created}")
    return 0


async def _create(kit: AuthKit, args: argparse.Namespace) -> int:
    admin_id = None
    if args.admin:
        admin_id = await _user_id(kit, args.admin)
        if admin_id is None:
            return 1
    created = await kit.organizations.create(name=args.name, slug=args.slug, created_by=admin_id)
    print(f"authkit: {created.id} created at /organizations/{created.slug}.")
    return 0


async def _delete(kit: AuthKit, args: argparse.Namespace) -> int:
    org = await _organization(kit, args.org)
    if org is None:
        return 1
    if not args.yes:
        print(
            f"Delete {org.name} ({org.slug}) with its members, invitations and domains? "
            "This cannot be undone.\nType its slug to confirm: ",
            end="",
            flush=True,
        )
        if sys.stdin.readline().strip() != org.slug:
            print("authkit: nothing deleted.", file=sys.stderr)
            return 1
    await kit.organizations.delete(org.id)
    print(f"authkit: {org.id} deleted.")
    return 0


async def _members(kit: AuthKit, args: argparse.Namespace) -> int:
    org = await _organization(kit, args.org)
    if org is None:
        return 1
    print(f"{'user':<32} {'email':<32} {'role':<20} joined")
    offset = 0
    while page := await kit.organizations.members(org.id, limit=500, offset=offset):
        for m in page:
            joined = m.joined_at.strftime("%Y-%m-%d")
            print(f"{m.user_id:<32} {m.email:<32} {m.role:<20} {joined}")
        offset += len(page)
    return 0


async def _add_member(kit: AuthKit, args: argparse.Namespace) -> int:
    found = await _organization_and_user(kit, args)
    if found is None:
        return 1
    org, user_id = found
    await kit.organizations.add_member(org.id, user_id, role=args.role)
    print(f"authkit: {user_id} is now {args.role} in {org.slug}.")
    return 0


async def _remove_member(kit: AuthKit, args: argparse.Namespace) -> int:
    found = await _organization_and_user(kit, args)
    if found is None:
        return 1
    org, user_id = found
    if not await kit.organizations.remove_member(org.id, user_id):
        print(f"authkit: {args.user!r} is not in {org.slug}.", file=sys.stderr)
        return 1
    print(f"authkit: {user_id} removed from {org.slug}.")
    return 0


async def _set_role(kit: AuthKit, args: argparse.Namespace) -> int:
    found = await _organization_and_user(kit, args)
    if found is None:
        return 1
    org, user_id = found
    if not await kit.organizations.set_role(org.id, user_id, args.role):
        print(f"authkit: {args.user!r} is not in {org.slug}.", file=sys.stderr)
        return 1
    print(f"authkit: {user_id} is now {args.role} in {org.slug}.")
    return 0


async def _invite(kit: AuthKit, args: argparse.Namespace) -> int:
    org = await _organization(kit, args.org)
    if org is None:
        return 1
    invitation = await kit.organizations.invite(org.id, args.email, role=args.role)
    await kit.services.mailer.drain()
    print(f"authkit: invitation {invitation.id} sent to {invitation.email}.")
    return 0


async def _add_domain(kit: AuthKit, args: argparse.Namespace) -> int:
    org = await _organization(kit, args.org)
    if org is None:
        return 1
    enrollment = "join" if args.join else "invite"
    domain = await kit.organizations.add_domain(org.id, args.domain, enrollment=enrollment)
    print(f"authkit: {domain.domain} added to {org.slug} ({enrollment}).")
    return 0
