"""
A field that is itself a sentence of the message table (`Phrase("zxcvbn_avoid_sequences")`):
it is said in the same language as the sentence it sits in.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Phrase"]


class Phrase(NamedTuple):
    code: str
