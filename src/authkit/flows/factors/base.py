"""
The interface every sign-in factor implements, and nothing else: the pipeline
(flows/sign_in.py) knows the factors only through it.

A factor has two steps. `prepare` runs when the visitor picks the factor (mail a code,
mail a link); it may write in the transaction that saves the attempt and returns what
the factor keeps on the attempt. `attempt` judges what the visitor entered and returns a
`Proof`, or raises the `FlowError` to show beside the field; it must do the same work
for an unknown account as for a real one. A proof is used once: its `use` runs in the
transaction that records the factor (and creates the session), and answers False when
a parallel request used it first.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from sqlmodel.ext.asyncio.session import AsyncSession

from ...audit import RequestMeta
from ...errors import FlowError
from ...services import Services
from ..attempts import Attempt

__all__ = ["USED", "FactorKind", "FactorStrategy", "Prepared", "Proof", "Used"]


class FactorKind(StrEnum):
    #: Proves who the visitor is: password, an emailed code or link (a passkey later).
    FIRST = "first"
    #: Proves it a second way, after a first factor: an authenticator app, a recovery code.
    SECOND = "second"


@dataclass(frozen=True, slots=True)
class Used:
    """What using a proof did: `ok` is False when a parallel request used it first;
    `mail_ids` are outbox messages to send once the transaction commits."""

    ok: bool
    mail_ids: tuple[str, ...] = ()


USED = Used(ok=True)


async def _nothing_to_use(s: AsyncSession) -> Used:
    return USED


@dataclass(frozen=True, slots=True)
class Proof:
    """A factor judged right. `use` makes it single-use, inside the recording transaction."""

    use: Callable[[AsyncSession], Awaitable[Used]] = _nothing_to_use
    #: Said in the audit row (e.g. how many recovery codes remain).
    detail: Mapping[str, str | int | bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Prepared:
    """What `prepare` did: the state to keep on the attempt and the mail to send once the
    transaction commits."""

    state: Mapping[str, Any]
    mail_ids: tuple[str, ...] = ()


class FactorStrategy(ABC):
    """One way to prove who you are. Subclasses set the class attributes."""

    #: The factor's name: in `AUTHKIT_SIGN_IN_METHODS`, in URLs, in the session's `amr`.
    name: ClassVar[str]
    kind: ClassVar[FactorKind]
    #: Rate-limit rules this factor adds (`limits` notation), keyed `<rule>:<unit>`.
    rate_limits: ClassVar[Mapping[str, str]] = {}
    #: Whether `prepare` must run before `attempt` (it sends something).
    needs_prepare: ClassVar[bool] = False
    #: The form fields `attempt` reads.
    fields: ClassVar[tuple[str, ...]] = ("code",)
    #: Whether the factor has a step page of its own (`components/factor_<name>.html`);
    #: False for one entered on the first page (the password).
    has_step_page: ClassVar[bool] = True

    async def is_enrolled(self, svc: Services, s: AsyncSession, user_id: str) -> bool:
        """Whether the user can use this factor (has a password, an app set up, ...)."""
        return True

    async def prepare(
        self,
        svc: Services,
        s: AsyncSession,
        attempt: Attempt,
        meta: RequestMeta,
        *,
        again: bool = False,
    ) -> Prepared:
        """
        Get the factor ready for this attempt, in the open transaction `s`; `again` when
        the visitor asks for a new code or link (otherwise one still valid is kept).

        Raises:
            FlowError: `resend_too_soon`, `too_many_codes`, or `RateLimited`.
        """
        return Prepared(state=attempt.state_of(self.name))

    @abstractmethod
    async def attempt(
        self, svc: Services, attempt: Attempt, fields: Mapping[str, str], meta: RequestMeta
    ) -> Proof:
        """
        Judge the visitor's input for this attempt.

        Raises:
            FlowError: the input is wrong or malformed (a message for the form), or
                `RateLimited`.
        """

    @abstractmethod
    def refusal(self) -> FlowError:
        """The error a right factor still gets when the account may not sign in
        (banned): the same as a wrong one, so nobody learns the account is banned."""
