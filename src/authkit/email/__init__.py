"""
Outgoing email: rendering messages from templates (`render_email`), choosing a transport from
the email URL (`make_transport`, `EmailTransport`), and delivering in the background without
blocking requests (`Mailer`), and keeping what must not be lost until it is sent (`Outbox`).
"""

from __future__ import annotations

from .mailer import Mailer as Mailer
from .messages import render_email as render_email
from .outbox import Outbox as Outbox
from .transports import EmailTransport as EmailTransport
from .transports import make_transport as make_transport

__all__ = ["EmailTransport", "Mailer", "Outbox", "make_transport", "render_email"]
