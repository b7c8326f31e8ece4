"""
Outgoing email: rendering messages from templates (`render_email`), choosing a transport from
the email URL (`make_transport`, `EmailTransport`), and delivering in the background without
blocking requests (`Mailer`).
"""

from __future__ import annotations

from .mailer import Mailer as Mailer
from .messages import render_email as render_email
from .transports import EmailTransport as EmailTransport
from .transports import make_transport as make_transport

__all__ = ["EmailTransport", "Mailer", "make_transport", "render_email"]
