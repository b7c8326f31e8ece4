"""
The `authkit` command: run the demo site, make a secret key, migrate the database, rotate
signing keys, manage users and webhooks. Every command but `demo` and `secret` reads its settings
from `AUTHKIT_*` variables.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import json
import os
import secrets
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlmodel import SQLModel

from .addresses import normalize_email
from .app import AuthKit
from .cli_i18n import add_commands as add_i18n_commands
from .cli_import import add_command as add_import_command
from .cli_orgs import add_commands as add_org_commands
from .cli_webhooks import add_commands as add_webhook_commands
from .errors import ConfigError, FieldError, FlowError, StoreError
from .flows import admin, sign_up_access
from .messages import Messages
from .pruning import prune
from .security.tokens import KEY_PUBLISH_AHEAD
from .sessions import rotate_keys
from .store import migrate
from .theming import Theme

__all__ = ["main"]

DEMO_DIR = Path(".authkit-demo")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        result: int = args.run(args)
    except ConfigError as exc:
        print(f"authkit: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"authkit: the database is unavailable ({exc.__cause__ or exc}).", file=sys.stderr)
        return 1
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="authkit", description=__doc__)
    commands = parser.add_subparsers(title="commands")

    demo = commands.add_parser("demo", help="run the example site on SQLite")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.set_defaults(run=_demo)

    commands.add_parser(
        "secret", help="print a new random secret key for AUTHKIT_SECRET_KEY"
    ).set_defaults(run=_secret)

    db = commands.add_parser("db", help="database migrations").add_subparsers(title="db")
    db.add_parser("upgrade", help="migrate to the newest schema").set_defaults(run=_db_upgrade)

    keys = commands.add_parser("keys", help="signing keys").add_subparsers(title="keys")
    rotate = keys.add_parser(
        "rotate", help="add a new signing key; it signs once every verifier knows it"
    )
    rotate.add_argument(
        "--now",
        action="store_true",
        help="sign with the new key at once (a leaked key); third parties holding a cached "
        "JWKS refuse new tokens for up to 5 minutes",
    )
    rotate.set_defaults(run=_keys_rotate)

    commands.add_parser(
        "prune", help="delete sessions and code steps that ended over a week ago"
    ).set_defaults(run=_prune)

    users = commands.add_parser("users", help="manage users").add_subparsers(title="users")
    create = users.add_parser("create", help="create a user with a verified email")
    create.add_argument("--email", required=True)
    create.add_argument("--first-name", default="")
    create.add_argument("--last-name", default="")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    create.set_defaults(run=_users_create)
    listing = users.add_parser("list", help="list users, newest first")
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(run=_users_list)
    ban = users.add_parser("ban", help="ban a user and end their sessions")
    ban.add_argument("user", help="user id or email address")
    ban.set_defaults(run=_users_ban)
    unban = users.add_parser("unban", help="let a banned user sign in again")
    unban.add_argument("user", help="user id or email address")
    unban.set_defaults(run=_users_unban)
    remove = users.add_parser(
        "delete", help="delete a user and their data (asks to type their email address)"
    )
    remove.add_argument("user", help="user id or email address")
    remove.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    remove.set_defaults(run=_users_delete)
    metadata = users.add_parser(
        "metadata",
        help="show a user's metadata, or merge JSON into it (null removes a key)",
    )
    metadata.add_argument("user", help="user id or email address")
    for kind in ("public", "private", "unsafe"):
        metadata.add_argument(
            f"--{kind}", metavar="JSON", help=f"a JSON object for {kind}_metadata"
        )
    metadata.add_argument(
        "--replace", action="store_true", help="replace each object given instead of merging"
    )
    metadata.set_defaults(run=_users_metadata)
    invite = users.add_parser(
        "invite", help="email an invitation to sign up (the way in when sign-up is by invitation)"
    )
    invite.add_argument("email")
    invite.set_defaults(run=_users_invite)
    waitlist = commands.add_parser("waitlist", help="the sign-up waitlist").add_subparsers(
        title="waitlist"
    )
    waiting = waitlist.add_parser("list", help="who is waiting, first come first")
    waiting.add_argument("--limit", type=int, default=200)
    waiting.set_defaults(run=_waitlist_list)
    approve = waitlist.add_parser("approve", help="let someone in: they are emailed an invitation")
    approve.add_argument("email", help="the address on the waitlist")
    approve.set_defaults(run=_waitlist_approve)
    add_import_command(users, _with_kit)
    add_webhook_commands(commands, _with_kit)
    add_org_commands(commands, _with_kit)
    add_i18n_commands(commands)
    return parser


def _with_kit(work: Callable[[AuthKit], Coroutine[Any, Any, int]]) -> int:
    async def run() -> int:
        kit = AuthKit.from_env()
        try:
            await kit.ensure_started()
            return await work(kit)
        finally:
            await kit.aclose()

    return asyncio.run(run())


def _db_upgrade(args: argparse.Namespace) -> int:
    async def run() -> int:
        kit = AuthKit.from_env()
        try:
            before, after = await migrate.upgrade(kit.services.db)
            tables = sorted(SQLModel.metadata.tables)
        finally:
            await kit.aclose()
        where = _redacted_url(kit.settings.database_url)
        if kit.settings.database_schema:
            where += f" (schema {kit.settings.database_schema})"
        if before is None:
            print(
                f"authkit: created authkit's {len(tables)} tables in {where}, at revision "
                f"{after}: {', '.join(tables)}."
            )
        elif before != after:
            print(f"authkit: upgraded {where} from revision {before} to {after}.")
        else:
            print(f"authkit: database is up to date (revision {after}).")
        return 0

    return asyncio.run(run())


def _redacted_url(url: str) -> str:
    """The database URL without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _keys_rotate(args: argparse.Namespace) -> int:
    async def work(kit: AuthKit) -> int:
        kid = await rotate_keys(kit.services, immediately=args.now)
        when = "now" if args.now else f"in {int(KEY_PUBLISH_AHEAD.total_seconds() // 60)} minutes"
        print(
            f"authkit: new signing key {kid}, published now, signing {when}; "
            "the previous key stays published for a day after it stops signing."
        )
        return 0

    return _with_kit(work)


def _prune(args: argparse.Namespace) -> int:
    async def work(kit: AuthKit) -> int:
        pruned = await prune(kit.services)
        print(
            f"authkit: deleted {pruned.sessions} ended sessions, {pruned.codes} code steps, "
            f"{pruned.rate_limit_hits} expired rate-limit hits and {pruned.webhook_events} "
            "old webhook events."
        )
        return 0

    return _with_kit(work)


def _users_create(args: argparse.Namespace) -> int:
    try:
        normalize_email(args.email)  # a wrong address is said before any password is asked
    except FieldError as exc:
        print(f"authkit: --email: {Messages({})(exc.code, **exc.params)}", file=sys.stderr)
        return 1
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not sys.stdin.isatty():
        print(
            "authkit: there is no terminal to ask for the password: give it on standard "
            "input with --password-stdin.",
            file=sys.stderr,
        )
        return 2
    else:
        try:
            password = getpass.getpass("Password: ")
        except (EOFError, KeyboardInterrupt):
            print("\nauthkit: no password given; nothing created.", file=sys.stderr)
            return 1

    async def work(kit: AuthKit) -> int:
        try:
            user_id = await admin.create_user(
                kit.services,
                email=args.email,
                password=password,
                first_name=args.first_name,
                last_name=args.last_name,
            )
        except FlowError as exc:
            message = kit.services.messages(exc.code, **exc.params)
            print(f"authkit: {exc.field or 'error'}: {message}", file=sys.stderr)
            return 1
        print(user_id)
        return 0

    return _with_kit(work)


def _users_list(args: argparse.Namespace) -> int:
    async def work(kit: AuthKit) -> int:
        rows = await admin.list_users(kit.services, limit=args.limit)
        print(f"{'id':<32} {'email':<32} {'name':<24} {'created':<20} {'sessions':>8} banned")
        for u in rows:
            created = u.created_at.strftime("%Y-%m-%d %H:%M:%S")
            print(
                f"{u.id:<32} {u.email:<32} {u.name:<24} {created:<20} "
                f"{u.active_sessions:>8} {'yes' if u.banned else 'no'}"
            )
        return 0

    return _with_kit(work)


def _users_ban(args: argparse.Namespace) -> int:
    return _act_on_user(args.user, admin.ban_user, "banned; their sessions are ended")


def _users_unban(args: argparse.Namespace) -> int:
    return _act_on_user(args.user, admin.unban_user, "may sign in again", missing="banned user")


def _users_delete(args: argparse.Namespace) -> int:
    async def work(kit: AuthKit) -> int:
        user_id = await admin.find_user_id(kit.services, args.user)
        user = await kit.users.get(user_id) if user_id is not None else None
        if user is None:
            print(f"authkit: no user {args.user!r}.", file=sys.stderr)
            return 1
        if not args.yes:
            # Deleting cannot be undone: the operator types the address, as GitHub asks
            # for a repository's name.
            print(
                f"Delete {user.id} ({user.email}) and all their data? This cannot be undone.\n"
                "Type their email address to confirm: ",
                end="",
                flush=True,
            )
            answer = sys.stdin.readline().strip()
            if answer.casefold() != user.email.casefold():
                print("authkit: nothing deleted.", file=sys.stderr)
                return 1
        if not await kit.users.delete(user.id):
            print(f"authkit: no user {args.user!r}.", file=sys.stderr)
            return 1
        print(f"authkit: {user.id} deleted.")
        return 0

    return _with_kit(work)


def _users_metadata(args: argparse.Namespace) -> int:
    given: dict[str, Any] = {}
    for kind in ("public", "private", "unsafe"):
        text = getattr(args, kind)
        if text is None:
            continue
        try:
            given[f"{kind}_metadata"] = json.loads(text)
        except ValueError as exc:
            print(f"authkit: --{kind} is not JSON: {exc}", file=sys.stderr)
            return 1

    async def work(kit: AuthKit) -> int:
        user_id = await admin.find_user_id(kit.services, args.user)
        if user_id is None:
            print(f"authkit: no user {args.user!r}.", file=sys.stderr)
            return 1
        try:
            if args.replace:
                user = await kit.users.update(user_id, **given)
            else:
                user = await kit.users.update_metadata(user_id, **given)
        except FlowError as exc:
            message = kit.services.messages(exc.code, **exc.params)
            print(f"authkit: {exc.field or 'error'}: {message}", file=sys.stderr)
            return 1
        if user is None:
            print(f"authkit: no user {args.user!r}.", file=sys.stderr)
            return 1
        shown = {
            "public_metadata": user.public_metadata,
            "private_metadata": user.private_metadata,
            "unsafe_metadata": user.unsafe_metadata,
        }
        print(json.dumps(shown, indent=2, ensure_ascii=False))
        return 0

    return _with_kit(work)


def _users_invite(args: argparse.Namespace) -> int:
    async def work(kit: AuthKit) -> int:
        try:
            invitation = await kit.users.invite(args.email)
        except FlowError as refused:
            print(
                f"authkit: {kit.services.messages(refused.code, **refused.params)}", file=sys.stderr
            )
            return 1
        await kit.services.mailer.drain()
        print(f"authkit: invitation {invitation.id} sent to {invitation.email}.")
        return 0

    return _with_kit(work)


def _waitlist_list(args: argparse.Namespace) -> int:
    async def work(kit: AuthKit) -> int:
        entries = await kit.users.waitlist(limit=args.limit)
        if not entries:
            print("authkit: nobody is waiting.")
        for entry in entries:
            print(f"{entry.created_at:%Y-%m-%d %H:%M}  {entry.email}")
        return 0

    return _with_kit(work)


def _waitlist_approve(args: argparse.Namespace) -> int:
    async def work(kit: AuthKit) -> int:
        entry = await sign_up_access.waiting_entry(kit.services, args.email)
        if entry is None or not await kit.users.approve(entry.id):
            print(f"authkit: {args.email!r} is not waiting.", file=sys.stderr)
            return 1
        await kit.services.mailer.drain()
        print(f"authkit: {entry.email} is invited to sign up.")
        return 0

    return _with_kit(work)


def _act_on_user(
    who: str,
    action: Callable[[Any, str], Coroutine[Any, Any, bool]],
    done: str,
    *,
    missing: str = "user",
) -> int:
    async def work(kit: AuthKit) -> int:
        user_id = await admin.find_user_id(kit.services, who)
        if user_id is None or not await action(kit.services, user_id):
            print(f"authkit: no {missing} {who!r}.", file=sys.stderr)
            return 1
        print(f"authkit: {user_id} {done}.")
        return 0

    return _with_kit(work)


def _secret(args: argparse.Namespace) -> int:
    # 48 random bytes, URL-safe: 64 characters, twice the minimum length.
    print(secrets.token_urlsafe(48))
    return 0


def _demo(args: argparse.Namespace) -> int:
    import uvicorn

    examples = _find_examples()
    if examples is None:
        print(
            "authkit: the example site was not found; run `authkit demo` from the authkit "
            "checkout (it lives in examples/).",
            file=sys.stderr,
        )
        return 2
    DEMO_DIR.mkdir(exist_ok=True)
    secret_file = DEMO_DIR / "secret_key"
    if not secret_file.exists():
        # The demo alone may make up its secret; it keeps it so sessions survive restarts.
        secret_file.write_text(secrets.token_urlsafe(48))
        secret_file.chmod(0o600)
    # Served on the loopback address, the demo calls itself `localhost`: a passkey needs
    # a domain name, never an IP address.
    loopback = args.host in ("127.0.0.1", "::1", "localhost")
    public = f"http://{'localhost' if loopback else args.host}:{args.port}"
    defaults = {
        "AUTHKIT_SECRET_KEY": secret_file.read_text().strip(),
        "AUTHKIT_DATABASE_URL": f"sqlite+aiosqlite:///{DEMO_DIR.resolve() / 'demo.db'}",
        "AUTHKIT_EMAIL_URL": "console://",
        "AUTHKIT_BASE_URL": public,
        "AUTHKIT_AUTO_MIGRATE": "true",
        "AUTHKIT_APP_NAME": "Jotter",
        "AUTHKIT_ORGANIZATIONS": "true",
    }
    environ = {**defaults, **{k: v for k, v in os.environ.items() if k.startswith("AUTHKIT_")}}
    sys.path.insert(0, str(examples))
    site = importlib.import_module("demo_site")  # the example site, found on sys.path above
    theme = {**site.DEMO_THEME, **Theme.from_env(environ).values()}
    templates = environ.get("AUTHKIT_JWT_TEMPLATES") or site.DEMO_JWT_TEMPLATES
    app = site.create_app(AuthKit.from_env(environ, theme=theme, jwt_templates=templates))
    print(f"authkit demo: {public}  (emails are printed here)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def _find_examples() -> Path | None:
    candidates = [Path.cwd() / "examples", Path(__file__).resolve().parents[2] / "examples"]
    for candidate in candidates:
        if (candidate / "demo_site" / "__init__.py").exists():
            return candidate
    return None


if __name__ == "__main__":
    raise SystemExit(main())
