"""
Email transports: where a finished `EmailMessage` goes. `make_transport()` turns the
`AUTHKIT_EMAIL_URL` into one of `console://` (printed to stdout, for development),
`file:///abs/dir` (one `.eml` file per message) or SMTP in three flavours, `smtp://` (plain),
`smtp+starttls://` (STARTTLS required) and `smtps://` (implicit TLS). Transports only deliver:
they never build, render or log messages, and they raise on failure (the `Mailer` decides what
a failure means).
"""

from __future__ import annotations

import re
import secrets
import sys
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
import anyio.to_thread

from ..errors import ConfigError

__all__ = [
    "ConsoleTransport",
    "EmailTransport",
    "FileTransport",
    "SmtpSecurity",
    "SmtpTransport",
    "make_transport",
]

#: How the SMTP connection is protected: none, upgraded by STARTTLS, or TLS from the first byte.
SmtpSecurity = Literal["none", "starttls", "tls"]

_SMTP_SCHEMES: dict[str, tuple[SmtpSecurity, int]] = {
    "smtp": ("none", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("tls", 465),
}
_SCHEMES_HINT = "console://, file:///abs/dir, smtp://, smtp+starttls:// or smtps://"
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


@runtime_checkable
class EmailTransport(Protocol):
    """
    Anything that can deliver one message. Implement `send()` to plug in an HTTP mail API.

    `send()` raises when delivery fails; it must not log the message, which carries codes.
    """

    async def send(self, message: EmailMessage) -> None: ...


class ConsoleTransport:
    """
    Prints every message to stdout readably (recipient, subject, the code and links each
    on a line of its own, the plain-text body), so they can be copied while developing.

    Never use it in production: codes and reset links end up in whatever collects stdout.
    """

    async def send(self, message: EmailMessage) -> None:
        # Look sys.stdout up at call time: test capture and hosts may replace it.
        out = sys.stdout
        out.write(_readable(message))
        out.flush()

    def __repr__(self) -> str:
        return "ConsoleTransport()"


class FileTransport:
    """
    Writes each message as `<UTC timestamp>-<random>.eml` into `directory`, creating it when
    missing. The random suffix and exclusive creation mean two messages never share a file.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: EmailMessage) -> None:
        data = message.as_bytes(policy=policy.SMTP)
        await anyio.to_thread.run_sync(self._write, data)

    def _write(self, data: bytes) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.directory / f"{stamp}-{secrets.token_hex(4)}.eml"
        # "x" refuses to overwrite: a clash fails loudly instead of losing a message.
        with path.open("xb") as f:
            f.write(data)
        return path

    def __repr__(self) -> str:
        return f"FileTransport(directory={str(self.directory)!r})"


class SmtpTransport:
    """
    Sends through an SMTP server with aiosmtplib, one connection per message.

    `timeout` bounds each network step (connect, every command), so a server that stops
    answering fails within it. `verify=False` accepts any TLS certificate: only for local
    development servers with self-signed certificates.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: SmtpSecurity = "none",
        username: str | None = None,
        password: str | None = None,
        verify: bool = True,
        timeout: float,
    ) -> None:
        self.host = host
        self.port = port
        self.security: SmtpSecurity = security
        self.username = username
        self.password = password
        self.verify = verify
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.security == "tls",
            # False, not None, for plain SMTP: None would try STARTTLS whenever it is offered.
            start_tls=self.security == "starttls",
            validate_certs=self.verify,
            timeout=self.timeout,
        )

    def __repr__(self) -> str:
        # The password never appears in a repr: reprs end up in logs and tracebacks.
        password = "'***'" if self.password is not None else "None"
        return (
            f"SmtpTransport(host={self.host!r}, port={self.port}, security={self.security!r}, "
            f"username={self.username!r}, password={password}, verify={self.verify}, "
            f"timeout={self.timeout})"
        )


def make_transport(url: str, *, timeout: float) -> EmailTransport:
    """
    Build the transport named by `url`.

    `console://`, `file:///abs/dir`, `smtp://[user:pass@]host[:port]` (default port 25),
    `smtp+starttls://...` (587) and `smtps://...` (465). User and password are URL-decoded,
    so `p%40ss` means `p@ss`. The SMTP schemes take `?verify=false` to skip certificate checks.

    `smtp://` never encrypts, not even the password: across a network use `smtp+starttls://`
    or `smtps://`, and keep `?verify=false` for development servers.

    Raises:
        ConfigError: the URL is not one of the above. The message never repeats the password.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "console":
        return ConsoleTransport()
    if scheme == "file":
        return _file_transport(url)
    if scheme in _SMTP_SCHEMES:
        return _smtp_transport(url, timeout=timeout)
    raise ConfigError(f"The email URL scheme {scheme!r} is unknown: use {_SCHEMES_HINT}.")


def _file_transport(url: str) -> FileTransport:
    parts = urlsplit(url)
    path = unquote(parts.path)
    # file://dir/x would silently put "dir" in the host part and write to /x.
    if parts.netloc not in ("", "localhost") or not path.startswith("/"):
        raise ConfigError("The file email URL needs an absolute directory, as in file:///abs/dir.")
    return FileTransport(Path(path))


def _smtp_transport(url: str, *, timeout: float) -> SmtpTransport:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    security, default_port = _SMTP_SCHEMES[scheme]
    if not parts.hostname:
        raise ConfigError(
            f"The {scheme}:// email URL needs a host, as in {scheme}://mail.example.com."
        )
    try:
        port = parts.port or default_port
    except ValueError:
        raise ConfigError(f"The {scheme}:// email URL has an invalid port.") from None
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if (username is None) != (password is None):
        raise ConfigError(
            f"The {scheme}:// email URL needs both a user and a password, or neither."
        )
    if not timeout > 0:
        raise ConfigError("The email timeout must be a positive number of seconds.")
    return SmtpTransport(
        host=parts.hostname,
        port=port,
        security=security,
        username=username,
        password=password,
        verify=_verify_option(parts.query, scheme),
        timeout=timeout,
    )


def _verify_option(query: str, scheme: str) -> bool:
    options = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(options) - {"verify"})
    if unknown:
        raise ConfigError(
            f"The {scheme}:// email URL has unknown options {unknown}: only verify is allowed."
        )
    value = options.get("verify", ["true"])[-1].lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(
        f"The {scheme}:// email URL option verify must be true or false, not {value!r}."
    )


_CODE = re.compile(r"(?<![\w/#=-])(\d{6})(?![\w/-])")
_LINK = re.compile(r"https?://[^\s<>\"']+")
_RULE = "─" * 72


def _readable(message: EmailMessage) -> str:
    """One message as a developer wants it in the terminal: who and what, the code or
    links each on a line of their own to copy, then the plain-text body (never the
    HTML copy, never MIME)."""
    body = message.get_body(preferencelist=("plain",))
    text = str(body.get_content()).rstrip("\n") if body is not None else ""
    lines = [
        f"── mail {_RULE[8:]}",
        f"To:      {message['To']}",
        f"Subject: {message['Subject']}",
    ]
    lines += [f"Code:    {code}" for code in dict.fromkeys(_CODE.findall(text))]
    lines += [f"Link:    {link}" for link in dict.fromkeys(_LINK.findall(text))]
    lines += ["", text or "(no text part)", _RULE, "", ""]
    return "\n".join(lines)
