"""
A sentence with a number in it, said differently by how many: `Plural(one, other, number)`
in the message table. English has two forms; the catalogs of other languages carry as many
as their grammar needs (Arabic six, Japanese one), chosen by the catalog's plural rule.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Plural"]


class Plural(NamedTuple):
    """English singular and plural of a sentence; `number` names the field that counts."""

    one: str
    other: str
    number: str = "count"

    def english(self, n: int) -> str:
        return self.one if n == 1 else self.other
