"""
Bot protection (AUTHKIT_BOT_PROTECTION, on by default): the rules a sign-up or a
sign-in form's submission passes before any other work is done for it.

- A honeypot field, hidden from people and assistive technology, that bots fill in:
  filled, the form is refused with a sentence (a person who somehow filled it just sends
  the form again; the field comes back empty).
- An ALTCHA proof of work (security/proof_of_work.py), solved by the widget while the
  visitor types. Sign-up always asks for it; sign-in asks once an IP has failed to sign in
  a few times (`sign_in_failed:ip`).
- A form sent without the proof still works (JavaScript off, or a browser the widget does
  not run in), but counts against tighter per-IP limits (`sign_up_unproven:ip`,
  `sign_in_unproven:ip`). A proof that is wrong, expired, made for the other form or used
  before is refused with a sentence: only a script can send one.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from ..audit import RequestMeta
from ..errors import FieldError, RateLimited
from ..security.proof_of_work import Purpose
from ..services import Services

__all__ = ["BotEvidence", "check_human", "issue_challenge", "note_failed_sign_in", "wants_proof"]


@dataclass(frozen=True, slots=True)
class BotEvidence:
    """What a form carried for the check."""

    #: The widget's hidden field (the ALTCHA payload); empty when no script ran.
    proof: str = ""
    #: The honeypot field; a person leaves it empty.
    honeypot: str = ""


async def wants_proof(svc: Services, purpose: Purpose, meta: RequestMeta) -> bool:
    """Whether the form for `purpose` should carry the widget for this visitor."""
    if not svc.settings.bot_protection:
        return False
    if purpose == "sign_up":
        return True
    return await svc.limiter.is_full("sign_in_failed:ip", meta.ip_address)


async def issue_challenge(svc: Services, purpose: Purpose, meta: RequestMeta) -> dict[str, Any]:
    """A fresh challenge for the widget (JSON), within the IP's allowance.

    Raises:
        RateLimited: this IP asked for too many lately.
    """
    await svc.limiter.hit("bot_challenge:ip", meta.ip_address)
    return await svc.proof_of_work.challenge(purpose)


async def check_human(
    svc: Services, purpose: Purpose, evidence: BotEvidence, meta: RequestMeta
) -> None:
    """
    Pass a submission, or refuse it.

    Raises:
        FieldError: the honeypot was filled, or the proof is not a good one.
        RateLimited: no proof, and this IP sent too many such forms.
    """
    if not svc.settings.bot_protection:
        return
    svc.proof_of_work.load.count()
    if evidence.honeypot:
        raise FieldError("bot_suspected", field="__all__")
    if not await wants_proof(svc, purpose, meta):
        return
    if not evidence.proof:
        await svc.limiter.hit(f"{purpose}_unproven:ip", meta.ip_address)
        return
    judgement = svc.proof_of_work.judge(evidence.proof, purpose)
    if judgement.verdict == "expired":
        raise FieldError("bot_check_expired", field="__all__")
    if not judgement.solved:
        raise FieldError("bot_suspected", field="__all__")
    try:
        await svc.limiter.hit("bot_proof:once", judgement.challenge_id)
    except RateLimited:
        # Used before: a person's browser solves a fresh challenge for every form.
        raise FieldError("bot_suspected", field="__all__") from None


async def note_failed_sign_in(svc: Services, meta: RequestMeta) -> None:
    """Count a failed sign-in against the IP (the count decides `wants_proof`)."""
    if not svc.settings.bot_protection:
        return
    # Full already: the proof is asked for until the window passes.
    with suppress(RateLimited):
        await svc.limiter.hit("sign_in_failed:ip", meta.ip_address)
