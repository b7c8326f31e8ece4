"""`ak_unbroken`: the address kept on one line with its full stop, everything escaped."""

from __future__ import annotations

from authkit.web.unbroken import unbroken


def test_the_address_and_its_full_stop_are_kept_together() -> None:
    text = "Enter the code sent to ada-lovelace@example.org."
    assert str(unbroken(text, "ada-lovelace@example.org")) == (
        'Enter the code sent to <span class="ak-unbroken">ada-lovelace@example.org.</span>'
    )


def test_text_and_address_are_escaped() -> None:
    out = str(unbroken("<b>Continue</b> as a&b@example.org", "a&b@example.org"))
    assert out == (
        '&lt;b&gt;Continue&lt;/b&gt; as <span class="ak-unbroken">a&amp;b@example.org</span>'
    )


def test_a_sentence_without_the_address_is_only_escaped() -> None:
    assert str(unbroken("Paste the <link>.", "ada@example.org")) == "Paste the &lt;link&gt;."
    assert str(unbroken("Paste the link.", "")) == "Paste the link."
