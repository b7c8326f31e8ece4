"""
Changing the password from the profile, or setting one for a user who signed up without
it (an emailed code or link). Changing asks for the current password (throttled per
account: a borrowed, signed-in laptop must not become a password oracle); setting one
asks for a recent "Confirm it's you" instead (the endpoint's business). Either way the
change is a credential change: sign-ins still under way with the old password end, other
sessions end too unless the user chose to keep them, and the owner is told by email.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from ..audit import RequestMeta, record_event
from ..errors import FieldError
from ..security.breached import refuse_if_breached
from ..security.passwords import check_new_password
from ..services import Services
from ..sessions import new_credential_generation
from ..store.models import EmailAddressRow, PasswordCredentialRow, UserRow
from .notices import compose, user_locale

__all__ = ["change_password", "has_password", "password_changed_at"]

#: A "your password changed" notice still worth sending after a mail outage.
NOTICE_LIFETIME = timedelta(days=1)


async def has_password(svc: Services, user_id: str) -> bool:
    return await password_changed_at(svc, user_id) is not None


async def password_changed_at(svc: Services, user_id: str) -> datetime | None:
    """When the user's password was last set, or None when they have none."""
    async with svc.db.session() as s:
        row = await s.get(PasswordCredentialRow, user_id)
    return row.updated_at if row is not None else None


async def change_password(
    svc: Services,
    *,
    user_id: str,
    session_id: str,
    current_password: str,
    new_password: str,
    sign_out_others: bool,
    meta: RequestMeta,
) -> bool:
    """
    Change the user's password (or set one when they have none); returns True when one
    was set rather than changed. The session `session_id` goes on.

    Raises:
        FieldError: `required` / `current_password_wrong` (current_password), a password
            rule or `password_unchanged` (new_password).
        RateLimited: too many wrong current passwords lately.
    """
    async with svc.db.session() as s:
        credential = await s.get(PasswordCredentialRow, user_id)
        user = await s.get(UserRow, user_id)
        names = (user.first_name, user.last_name) if user is not None else ()
        email = (
            await s.exec(
                select(EmailAddressRow.email).where(
                    col(EmailAddressRow.user_id) == user_id,
                    col(EmailAddressRow.is_primary).is_(True),
                )
            )
        ).first()
    if credential is not None:
        if not current_password:
            raise FieldError("required", field="current_password")
        await svc.limiter.hit("password_change:account", user_id)
        if len(current_password) > svc.settings.password_max_length or not (
            await svc.hasher.verify(credential.password_hash, current_password)
        ):
            raise FieldError("current_password_wrong", field="current_password")
    try:
        check_new_password(svc.settings, new_password, email=email, names=names)
    except FieldError as error:
        raise FieldError(error.code, field="new_password", **error.params) from None
    await refuse_if_breached(
        new_password,
        api=svc.settings.breached_password_api,
        enabled=svc.settings.breached_password_check,
        field="new_password",
    )
    if credential is not None and new_password == current_password:
        raise FieldError("password_unchanged", field="new_password")
    new_hash = await svc.hasher.hash(new_password)
    now = svc.clock()
    async with svc.db.session() as s:
        if credential is not None:
            changed = await s.exec(
                update(PasswordCredentialRow)
                .where(
                    col(PasswordCredentialRow.user_id) == user_id,
                    # Changed meanwhile (another tab, a reset): the proof above is stale.
                    col(PasswordCredentialRow.password_hash) == credential.password_hash,
                )
                .values(password_hash=new_hash, updated_at=now)
            )
            if changed.rowcount != 1:
                raise FieldError("current_password_wrong", field="current_password")
        else:
            s.add(PasswordCredentialRow(user_id=user_id, password_hash=new_hash, updated_at=now))
            try:
                await s.flush()
            except IntegrityError:
                # Set meanwhile in another tab: now the current one is needed to change it.
                raise FieldError("required", field="current_password") from None
        await new_credential_generation(
            svc, s, user_id, keep_session_id=session_id, end_other_sessions=sign_out_others
        )
        record_event(
            s,
            "password.changed" if credential is not None else "password.set",
            at=now,
            meta=meta,
            user_id=user_id,
            session_id=session_id,
            signed_out_others=sign_out_others,
        )
        mail_id = None
        if email is not None:
            mail_id = await svc.outbox.add(
                s,
                compose(svc, "password_changed", email, locale=await user_locale(s, user_id)),
                not_after=now + NOTICE_LIFETIME,
            )
    if mail_id is not None:
        svc.outbox.send_soon(mail_id)
    if credential is not None:
        await svc.limiter.clear("password_change:account", user_id)
    return credential is None
