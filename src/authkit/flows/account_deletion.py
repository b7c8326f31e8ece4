"""
Deleting one's own account from the Security section (after "Confirm it's you", the
endpoint's business): the user types a confirmation phrase, then every row of theirs goes
in one transaction, the way the operator's `authkit users delete` does it, and the
address they signed up with is told by email. Their sessions go with their rows, so
other devices are signed out at their next refresh, within one token lifetime.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from ..audit import RequestMeta
from ..errors import FieldError
from ..services import Services
from ..store.models import EmailAddressRow
from .admin import delete_user_rows
from .notices import compose, site_url

__all__ = ["CONFIRMATION_PHRASE", "delete_account", "is_confirmation"]

#: The message code of the phrase the user types ("Delete account"): a host that
#: translates the page translates the phrase with it.
CONFIRMATION_PHRASE = "delete_account_phrase"
#: A "your account was deleted" notice still worth sending after a mail outage.
NOTICE_LIFETIME = timedelta(days=1)


def is_confirmation(svc: Services, typed: str) -> bool:
    """The phrase as shown, in any case, with spaces around it forgiven."""
    return typed.strip().casefold() == svc.messages(CONFIRMATION_PHRASE).strip().casefold()


async def delete_account(
    svc: Services, *, user_id: str, session_id: str | None, confirmation: str, meta: RequestMeta
) -> bool:
    """
    Delete the user and everything of theirs, and mail a notice to their primary
    address once that is committed. False when the account was already gone (deleted
    meanwhile in another tab): nothing is left to do, and no second notice goes out.

    Raises:
        FieldError: `required` / `delete_account_mismatch` (confirmation).
    """
    if not confirmation.strip():
        raise FieldError("required", field="confirmation")
    if not is_confirmation(svc, confirmation):
        phrase = svc.messages(CONFIRMATION_PHRASE)
        raise FieldError("delete_account_mismatch", field="confirmation", phrase=phrase)
    async with svc.db.session() as s:
        # Read in the transaction that deletes it: the address the account has now.
        email = (
            await s.exec(
                select(EmailAddressRow.email).where(
                    col(EmailAddressRow.user_id) == user_id,
                    col(EmailAddressRow.is_primary).is_(True),
                )
            )
        ).first()
        # The operator's deletion, so both follow the schema alike; like it, this keeps
        # the user's audit rows (they name only ids) for the operator's record, with a
        # `user.deleted` row saying the user asked for it themselves.
        if not await delete_user_rows(svc, s, user_id, meta=meta, session_id=session_id, by="self"):
            return False
        mail_id = None
        if email is not None:
            notice = compose(svc, "account_deleted", email, sign_up_url=site_url(svc, "/sign-up"))
            mail_id = await svc.outbox.add(s, notice, not_after=svc.clock() + NOTICE_LIFETIME)
    # Sent only once the deletion is committed: a rolled-back one mails nothing.
    if mail_id is not None:
        svc.outbox.send_soon(mail_id)
    return True
