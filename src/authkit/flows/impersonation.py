"""
Impersonation: an admin signs in as a user to see what they see. The session is the
user's, marked with the admin (`SessionRow.actor_*`, the token's `act` claim), ends
within an hour, cannot change the password, factors or addresses (web/impersonation.py
refuses those pages), and shows in the user's own security activity.
"""

from __future__ import annotations

from ..audit import RequestMeta, record_event
from ..errors import FlowError
from ..services import Services
from ..sessions import SessionStart, create_session, prepare_session, revoke_session
from ..users import sign_in_generation

__all__ = ["start_impersonation", "stop_impersonation"]


async def start_impersonation(
    svc: Services, *, admin_id: str, admin_session_id: str, user_id: str, meta: RequestMeta
) -> SessionStart:
    """
    A session for `user_id` held by the admin.

    Raises:
        FlowError: `impersonate_self` for the admin's own account, `impersonate_gone`
            for a user who does not exist or is banned.
    """
    if user_id == admin_id:
        raise FlowError("impersonate_self")
    await prepare_session(svc)
    now = svc.clock()
    async with svc.db.session() as s:
        generation = await sign_in_generation(s, user_id)
        if generation is None:
            raise FlowError("impersonate_gone")
        start = await create_session(
            svc,
            s,
            user_id=user_id,
            meta=meta,
            amr=["impersonation"],
            first_factor_at=now,
            credential_generation=generation,
            actor=(admin_id, admin_session_id),
        )
        record_event(
            s,
            "impersonation.started",
            at=now,
            meta=meta,
            user_id=user_id,
            session_id=start.session_id,
            actor=admin_id,
        )
    return start


async def stop_impersonation(
    svc: Services, *, user_id: str, session_id: str, admin_id: str, meta: RequestMeta
) -> None:
    """End the impersonation session (the admin's own session is untouched)."""
    async with svc.db.session() as s:
        await revoke_session(svc, s, session_id, signed_out=True)
        record_event(
            s,
            "impersonation.ended",
            at=svc.clock(),
            meta=meta,
            user_id=user_id,
            session_id=session_id,
            actor=admin_id,
        )
