"""
Finding users by the start of any word of their name or address, by index: each user's
words (the names and their parts, each address whole, its local part and its pieces, its
domain and the domain's labels), lower-cased, are kept in `user_search_terms`, and a
search for `lov` is a range on the term index (`lov` ≤ term < `low`), however many users
there are. A search of several words finds the users who match every one.

The words are rewritten in the commit that changes what they come from: a before-commit
hook reads what the transaction audited (a sign-up, a profile or address change, an
import) and refreshes those users' words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable, Iterable

from sqlalchemy import ColumnElement, and_, delete, insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .audit import audited_in
from .store.models import EMAIL_MAX_LENGTH, EmailAddressRow, UserRow, UserSearchTermRow

__all__ = [
    "CHANGES_WORDS",
    "matching_words",
    "refresh_search_terms",
    "search_terms_hook",
    "terms_of",
]

#: Audited events after which a user's words may differ.
CHANGES_WORDS = frozenset(
    {
        "sign_up.completed",
        "user.created",
        "user.imported",
        "profile.updated",
        "email.added",
        "email.removed",
        "email.verified",
        "email.primary_changed",
        "oauth.linked",
    }
)
#: At most this many words of a search are looked up (each one more range and join).
MAX_SEARCH_WORDS = 4
#: What splits a name or a local part into words: spaces, dots, underscores, plus signs,
#: hyphens and apostrophes (straight or curly: O'Brien, O\u2019Brien).
_SPLIT = re.compile("[\\s._+\\-'\u2019]+")


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower().strip()


def terms_of(first_name: str, last_name: str, addresses: Iterable[str]) -> set[str]:
    """A user's words: each name and its parts, each address, its local part and
    pieces, its domain and the domain's labels; lower-case, never empty."""
    terms: set[str] = set()
    for name in (first_name, last_name):
        whole = _normal(name)
        if whole:
            terms.add(whole)
            terms.update(_SPLIT.split(whole))
    for address in addresses:
        whole = _normal(address)
        local, _, domain = whole.rpartition("@")
        terms.update({whole, local, domain})
        terms.update(_SPLIT.split(local))
        terms.update(domain.split("."))
    return {t[:EMAIL_MAX_LENGTH] for t in terms if t}


def _words(needle: str) -> list[str]:
    return [w for w in _normal(needle).split() if w][:MAX_SEARCH_WORDS]


def matching_words(needle: str) -> ColumnElement[bool]:
    """Users with a word starting with each word of `needle` (in any case): one range on
    the term index per word."""
    conditions = []
    for word in _words(needle):
        past = word[:-1] + chr(ord(word[-1]) + 1)  # the first string past the prefix
        holders = select(UserSearchTermRow.user_id).where(
            col(UserSearchTermRow.term) >= word, col(UserSearchTermRow.term) < past
        )
        conditions.append(col(UserRow.id).in_(holders))
    return and_(*conditions) if conditions else and_(True)


async def refresh_search_terms(s: AsyncSession, user_ids: Iterable[str]) -> None:
    """Rewrite the words of `user_ids` from their names and addresses, in `s`."""
    ids = sorted(set(user_ids))
    if not ids:
        return
    names = {
        row.id: (row.first_name, row.last_name)
        for row in (await s.exec(select(UserRow).where(col(UserRow.id).in_(ids)))).all()
    }
    addresses: dict[str, list[str]] = {}
    for user_id, email in (
        await s.exec(
            select(EmailAddressRow.user_id, EmailAddressRow.normalized).where(
                col(EmailAddressRow.user_id).in_(ids)
            )
        )
    ).all():
        addresses.setdefault(user_id, []).append(email)
    await s.exec(delete(UserSearchTermRow).where(col(UserSearchTermRow.user_id).in_(ids)))
    rows = [
        {"user_id": user_id, "term": term}
        for user_id, (first, last) in names.items()
        for term in sorted(terms_of(first, last, addresses.get(user_id, ())))
    ]
    if rows:
        await s.exec(insert(UserSearchTermRow), params=rows)


def search_terms_hook() -> Callable[[AsyncSession], Awaitable[None]]:
    """A before-commit hook: the words of every user whose name or addresses the
    transaction changed (as it audited) are rewritten in the same commit."""

    async def before_commit(s: AsyncSession) -> None:
        changed = {
            change.user_id
            for change in audited_in(s)
            if change.event in CHANGES_WORDS and change.user_id is not None
        }
        if changed:
            await s.flush()
            await refresh_search_terms(s, changed)

    return before_commit
