"""
Email rendering: turns a template name and a context into a ready `EmailMessage`. Each email is
`authkit/email/<name>.subject.txt`, `<name>.txt` and optionally `<name>.html`, looked up on the
Jinja environment the caller passes in, so a host overrides any of them by putting a file with
the same path in its own template folder. Which emails exist and what they say lives in the
templates; this module only assembles headers and parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

import jinja2

__all__ = ["render_email"]

TEMPLATE_PREFIX = "authkit/email/"
# make_msgid() would otherwise call socket.getfqdn(): a slow DNS lookup that leaks the host name.
_FALLBACK_MSGID_DOMAIN = "localhost"


def render_email(
    env: jinja2.Environment,
    name: str,
    context: Mapping[str, object],
    *,
    sender: str,
    to: str,
) -> EmailMessage:
    """
    Render the email `name` for `to`.

    The subject is collapsed to one line. The text part is always there; with a `.html`
    template the message becomes multipart/alternative. The `.txt` templates switch
    autoescaping off themselves and the `.html` ones switch it on, so the result does not
    depend on the environment's autoescape setting; a host overriding them should do the same.

    Raises:
        jinja2.TemplateNotFound: the subject or text template is missing.
        ValueError: `sender` or `to` contains a line break (header injection).
    """
    prefix = f"{TEMPLATE_PREFIX}{name}"
    # Whitespace collapsed: a stray newline in a template must never start a new header.
    subject = " ".join(env.get_template(f"{prefix}.subject.txt").render(context).split())
    text = env.get_template(f"{prefix}.txt").render(context)
    html = _render_optional(env, f"{prefix}.html", context)

    message = EmailMessage()
    # EmailMessage's default policy rejects CR/LF in header values, which stops injection.
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=_domain_of(sender))
    message.set_content(_end_with_newline(text))
    if html is not None:
        message.add_alternative(_end_with_newline(html), subtype="html")
    return message


def _render_optional(
    env: jinja2.Environment, name: str, context: Mapping[str, object]
) -> str | None:
    try:
        template = env.get_template(name)
    except jinja2.TemplateNotFound as exc:
        # Only this template may be missing; a missing include inside it is a real error.
        if exc.name != name:
            raise
        return None
    return template.render(context)


def _domain_of(sender: str) -> str:
    _, address = parseaddr(sender)
    _, at, domain = address.rpartition("@")
    return domain if at and domain else _FALLBACK_MSGID_DOMAIN


def _end_with_newline(body: str) -> str:
    return body if body.endswith("\n") else body + "\n"
