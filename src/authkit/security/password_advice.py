"""
zxcvbn's feedback, as sentences of the message table: zxcvbn says them in English only, so
each is mapped to a code (`password_advice_*`) and translated with the rest. An English
sentence a later zxcvbn adds, and this table lacks, is shown as it is.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..i18n.phrase import Phrase

__all__ = ["PASSWORD_ADVICE", "advice_phrase"]

#: code → zxcvbn's English sentence (zxcvbn/feedback.py, 4.5).
PASSWORD_ADVICE: Mapping[str, str] = {
    "password_advice_add_word": "Add another word or two. Uncommon words are better.",
    "password_advice_capitals": "Capitalization doesn't help very much.",
    "password_advice_reversed": "Reversed words aren't much harder to guess.",
    "password_advice_substitutions": (
        "Predictable substitutions like '@' instead of 'a' don't help very much."
    ),
    "password_advice_few_words": "Use a few words, avoid common phrases.",
    "password_advice_no_symbols_needed": "No need for symbols, digits, or uppercase letters.",
    "password_advice_key_rows": "Straight rows of keys are easy to guess.",
    "password_advice_key_patterns": "Short keyboard patterns are easy to guess.",
    "password_advice_top_10": "This is a top-10 common password.",
    "password_advice_similar_common": "This is similar to a commonly used password.",
    "password_advice_one_word": "A word by itself is easy to guess.",
    "password_advice_all_caps": "All-uppercase is almost as easy to guess as all-lowercase.",
    "password_advice_longer_pattern": "Use a longer keyboard pattern with more turns.",
    "password_advice_repeats": 'Repeats like "aaa" are easy to guess.',
    "password_advice_repeated_groups": (
        'Repeats like "abcabcabc" are only slightly harder to guess than "abc".'
    ),
    "password_advice_top_100": "This is a top-100 common password.",
    "password_advice_very_common": "This is a very common password.",
    "password_advice_names": "Names and surnames by themselves are easy to guess.",
    "password_advice_common_names": "Common names and surnames are easy to guess.",
    "password_advice_avoid_repeats": "Avoid repeated words and characters.",
    "password_advice_sequences": 'Sequences like "abc" or "6543" are easy to guess.',
    "password_advice_avoid_sequences": "Avoid sequences.",
    "password_advice_recent_years": "Recent years are easy to guess.",
    "password_advice_dates": "Dates are often easy to guess.",
    "password_advice_avoid_recent_years": "Avoid recent years.",
    "password_advice_avoid_your_years": "Avoid years that are associated with you.",
    "password_advice_avoid_your_dates": "Avoid dates and years that are associated with you.",
}

_CODE_OF = {english: code for code, english in PASSWORD_ADVICE.items()}


def advice_phrase(english: str) -> Phrase | str:
    """zxcvbn's sentence as a phrase of the table, or as it is when the table lacks it."""
    code = _CODE_OF.get(english)
    return Phrase(code) if code is not None else english
