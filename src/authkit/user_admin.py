"""
The users, for a host's own code: `AuthKit.users`. Every method is a coroutine and a thin
door onto the flows the CLI uses, so the rules (a ban or a deletion ends every session,
names are checked, the audit log records who did what) are the same whoever asks.

    user = await authkit.users.get(user_id)
    page = await authkit.users.list(search="ada", limit=20)
    await authkit.users.update(user_id, first_name="Ada")
    await authkit.users.set_image(user_id, png_bytes)
    await authkit.users.revoke_sessions(user_id)
    await authkit.users.delete(user_id)
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from .audit import RequestMeta, record_event
from .errors import FieldError
from .flows import admin, avatars, sign_up_access
from .flows.metadata import metadata_cap, replace_metadata, update_metadata
from .flows.sign_up_access import SignUpInvitation, WaitlistEntry
from .metadata import MetadataKind, checked_metadata
from .search_terms import matching_words
from .services import Services
from .sessions import revoke_all_sessions
from .store.models import EmailAddressRow, UserRow
from .users import User, clean_name, get_user, user_of

__all__ = ["HOST", "Users"]

#: How the audit log names changes made through this API.
HOST = RequestMeta(ip_address="", user_agent="authkit-api")
#: The most users one `list` call returns.
MAX_PAGE = 500


class Users:
    def __init__(self, svc: Services) -> None:
        self._svc = svc

    async def get(self, user_id: str) -> User | None:
        """The user with this id, or None."""
        return await get_user(self._svc, user_id)

    async def get_by_email(self, email: str) -> User | None:
        """The user who holds this address (any of theirs, any spelling), or None."""
        user_id = await admin.find_user_id(self._svc, email)
        return await self.get(user_id) if user_id is not None else None

    async def list(
        self, *, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> builtins.list[User]:
        """
        Users, newest first; `search` matches the start of any word of a name or an
        address (`lov` finds Lovelace, `acme.com` everyone there; several words must all
        match), in any case, by index. At most `MAX_PAGE` per call: page with `offset`.
        """
        limit = max(0, min(limit, MAX_PAGE))
        statement = (
            select(UserRow, EmailAddressRow)
            .join(EmailAddressRow, col(EmailAddressRow.user_id) == col(UserRow.id))
            .where(col(EmailAddressRow.is_primary).is_(True))
        )
        if search:
            statement = statement.where(matching_words(search))
        statement = (
            statement.order_by(col(UserRow.created_at).desc(), col(UserRow.id))
            .offset(max(0, offset))
            .limit(limit)
        )
        async with self._svc.db.session() as s:
            rows = (await s.exec(statement)).all()
        mount_path = self._svc.mount_path
        return [user_of(user, address, mount_path=mount_path) for user, address in rows]

    async def create(
        self, *, email: str, password: str, first_name: str = "", last_name: str = ""
    ) -> User:
        """
        A new user with a verified address (you vouch for it) and a password.

        Raises:
            FieldError: a field is wrong, or `email_taken`.
        """
        user_id = await admin.create_user(
            self._svc, email=email, password=password, first_name=first_name, last_name=last_name
        )
        user = await self.get(user_id)
        assert user is not None  # made just now
        return user

    async def update(
        self,
        user_id: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        public_metadata: Mapping[str, Any] | None = None,
        private_metadata: Mapping[str, Any] | None = None,
        unsafe_metadata: Mapping[str, Any] | None = None,
        locale: str | None = None,
    ) -> User | None:
        """
        Change what is given (None leaves a field alone; a metadata object given
        replaces the stored one whole); returns the user as now, or None if there is no
        such user. `locale` is the language of their emails (and, from their next
        sign-in, of their pages): one of the site's languages (`de`, `pt-BR`).

        Raises:
            FieldError: a name is too long, has control characters, or is required here
                (`AUTHKIT_NAME_FIELDS=required`) and empty; a metadata object is not a
                JSON object or is over 8 KB; `language_unknown` for a language the site
                does not offer.
        """
        required = self._svc.settings.name_fields == "required"
        values: dict[str, str] = {}
        if first_name is not None:
            values["first_name"] = clean_name(first_name, field="first_name", required=required)
        if last_name is not None:
            values["last_name"] = clean_name(last_name, field="last_name", required=required)
        if locale is not None:
            found = self._svc.locales.find(locale)
            if found is None:
                raise FieldError("language_unknown", field="locale")
            values["locale"] = found
        given: dict[MetadataKind, Mapping[str, Any] | None] = {
            "public_metadata": public_metadata,
            "private_metadata": private_metadata,
            "unsafe_metadata": unsafe_metadata,
        }
        # Every value is checked before anything is written: all of it, or none.
        replaced = {
            kind: checked_metadata(value, kind=kind, max_bytes=metadata_cap(self._svc, kind))
            for kind, value in given.items()
            if value is not None
        }
        if values:
            await self._write(user_id, values)
        if replaced:
            await replace_metadata(self._svc, user_id, replaced, meta=HOST, by="host")
        return await self.get(user_id)

    async def update_metadata(
        self,
        user_id: str,
        *,
        public_metadata: Mapping[str, Any] | None = None,
        private_metadata: Mapping[str, Any] | None = None,
        unsafe_metadata: Mapping[str, Any] | None = None,
    ) -> User | None:
        """
        Merge into the user's metadata, as Clerk's `updateUserMetadata`: objects merge
        key by key, deeply, and a key set to None is removed. Returns the user as now, or
        None if there is no such user.

        Raises:
            FieldError: a patch is not a JSON object, or the result is over 8 KB.
        """
        patches: dict[MetadataKind, Mapping[str, Any] | None] = {
            "public_metadata": public_metadata,
            "private_metadata": private_metadata,
            "unsafe_metadata": unsafe_metadata,
        }
        await update_metadata(
            self._svc,
            user_id,
            {k: v for k, v in patches.items() if v is not None},
            meta=HOST,
            by="host",
        )
        return await self.get(user_id)

    async def _write(self, user_id: str, values: Mapping[str, str]) -> None:
        now = self._svc.clock()
        async with self._svc.db.session() as s:
            changed = await s.exec(
                update(UserRow).where(col(UserRow.id) == user_id).values(**values, updated_at=now)
            )
            if changed.rowcount:
                record_event(s, "profile.updated", at=now, meta=HOST, user_id=user_id, by="host")

    async def set_image(self, user_id: str, data: bytes) -> User | None:
        """
        Make `data` (PNG, JPEG, GIF or WebP bytes, at most 10 MB) the user's profile
        picture, re-encoded as a 256 px WebP without metadata; returns the user as now
        (`image_url` set), or None if there is no such user.

        Raises:
            FieldError: on `image`, when the data is not an image authkit accepts
                (`image_format`, `image_damaged`, `image_too_large`, ...).
        """
        content_hash = await avatars.set_avatar(
            self._svc, user_id=user_id, data=data, meta=HOST, by_host=True
        )
        return await self.get(user_id) if content_hash is not None else None

    async def remove_image(self, user_id: str) -> bool:
        """Remove the user's profile picture (initials show again); False if they had none."""
        return await avatars.remove_avatar(self._svc, user_id=user_id, meta=HOST, by_host=True)

    async def delete(self, user_id: str) -> bool:
        """Delete the user and everything of theirs; False if unknown."""
        return await admin.delete_user(self._svc, user_id, meta=HOST)

    async def ban(self, user_id: str) -> bool:
        """No more sign-ins, every session ended; False if unknown."""
        return await admin.ban_user(self._svc, user_id)

    async def unban(self, user_id: str) -> bool:
        """Let a banned user sign in again; False if unknown or not banned."""
        return await admin.unban_user(self._svc, user_id)

    async def revoke_sessions(self, user_id: str, *, except_session_id: str | None = None) -> int:
        """
        End the user's sessions (all, or all but one): each browser is signed out at its
        next refresh, within one session-token lifetime. Returns how many ended.
        """
        async with self._svc.db.session() as s:
            ended = await revoke_all_sessions(
                self._svc, user_id, except_session_id=except_session_id, within=s
            )
            if ended:
                record_event(
                    s,
                    "sessions.revoked",
                    at=self._svc.clock(),
                    meta=HOST,
                    user_id=user_id,
                    count=ended,
                )
        return ended

    async def invite(self, email: str, *, inviter_id: str | None = None) -> SignUpInvitation:
        """
        Mail `email` an invitation to sign up (its link fills in the address); the way in
        when `AUTHKIT_SIGN_UP` is `invite` or `waitlist`.

        Raises:
            FieldError: a malformed address, or one that has an account (`email_taken`).
        """
        return await sign_up_access.invite(self._svc, email=email, actor_id=inviter_id, meta=HOST)

    async def waitlist(self, *, limit: int = 200) -> builtins.list[WaitlistEntry]:
        """Who is waiting to be let in, first come first."""
        return await sign_up_access.waitlist(self._svc, limit=limit)

    async def approve(self, entry_id: str) -> bool:
        """Let a waiting entry in (they are mailed an invitation); False when it is not
        waiting."""
        return await sign_up_access.approve(self._svc, entry_id=entry_id, actor_id=None, meta=HOST)
