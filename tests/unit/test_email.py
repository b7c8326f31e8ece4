"""
The email package against real servers: aiosmtpd for SMTP (plain, STARTTLS with AUTH and
implicit TLS, with a certificate made here), a socket that never answers for timeouts, and the
packaged templates rendered through a Jinja environment like the one authkit builds.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import anyio
import jinja2
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import authkit.email
from authkit.email import Mailer, make_transport, render_email
from authkit.email.transports import ConsoleTransport, FileTransport, SmtpTransport
from authkit.errors import ConfigError
from authkit.messages import Messages

SENDER = "Acme <no-reply@acme.test>"
RECIPIENT = "alice@example.com"
CONTEXTS: dict[str, dict[str, object]] = {
    "sign_up_code": {"app_name": "Acme", "code": "123456", "email": RECIPIENT, "minutes": 10},
    "sign_up_existing": {
        "app_name": "Acme",
        "email": RECIPIENT,
        "sign_in_url": "https://acme.test/sign-in",
        "reset_url": "https://acme.test/forgot-password",
    },
    "password_reset_code": {
        "app_name": "Acme",
        "code": "654321",
        "email": RECIPIENT,
        "minutes": 10,
        "reset_url": "https://acme.test/reset-password?token=abc&x=1",
    },
    "password_changed": {
        "app_name": "Acme",
        "email": RECIPIENT,
        "reset_url": "https://acme.test/forgot-password",
    },
    "account_deleted": {
        "app_name": "Acme",
        "email": RECIPIENT,
        "sign_up_url": "https://acme.test/sign-up",
    },
    "org_invitation": {
        "app_name": "Acme",
        "email": RECIPIENT,
        "organization_name": "Rocket Team",
        "role_name": "Billing",
        "inviter_name": "Ada Lovelace",
        "accept_url": "https://acme.test/organizations/invitations/tok",
        "days": 7,
    },
    "org_role_changed": {
        "app_name": "Acme",
        "email": RECIPIENT,
        "organization_name": "Rocket Team",
        "role_name": "Admin",
        "organizations_url": "https://acme.test/organizations",
    },
    "sign_up_invitation": {
        "app_name": "Acme",
        "email": RECIPIENT,
        "accept_url": "https://acme.test/sign-up?invitation=tok",
        "days": 7,
    },
    "org_removed": {
        "app_name": "Acme",
        "email": RECIPIENT,
        "organization_name": "Rocket Team",
        "organizations_url": "https://acme.test/organizations",
    },
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiosmtplib is asyncio-only


def make_env(autoescape: bool | None = None) -> jinja2.Environment:
    """The environment authkit builds (None), or one that always or never escapes."""
    choice: bool | Callable[[str | None], bool] = (
        jinja2.select_autoescape(["html", "xml"], default_for_string=False, default=False)
        if autoescape is None
        else autoescape
    )
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.PackageLoader("authkit", "templates")]),
        autoescape=choice,  # noqa: S701 -- tests prove the templates escape even when off
        undefined=jinja2.StrictUndefined,
    )
    # The message table the emails' sentences come from (compose() passes it as `t`).
    env.globals["t"] = Messages()
    return env


def sign_up_code_message(**overrides: object) -> EmailMessage:
    context = {**CONTEXTS["sign_up_code"], **overrides}
    return render_email(make_env(), "sign_up_code", context, sender=SENDER, to=RECIPIENT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Sink:
    """aiosmtpd handler keeping every message and the login used to send it."""

    messages: list[EmailMessage] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login, auth_data.password))
        ok = auth_data.login == b"mailer" and auth_data.password == b"p@ss:w/rd"
        return AuthResult(success=ok)


@dataclass
class Server:
    sink: Sink
    port: int


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def server_tls(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls_files)
    return context


def run_controller(sink: Sink, **kwargs: Any) -> Iterator[Server]:
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()  # its own loop in its own thread
    try:
        yield Server(sink, port)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[Server]:
    yield from run_controller(Sink())


@pytest.fixture
def starttls_server(server_tls: ssl.SSLContext) -> Iterator[Server]:
    sink = Sink()
    yield from run_controller(
        sink,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=sink.authenticate,
        auth_required=True,
    )


@pytest.fixture
def smtps_server(server_tls: ssl.SSLContext) -> Iterator[Server]:
    yield from run_controller(Sink(), ssl_context=server_tls)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose server never says a word."""
    # A listening socket that never calls accept(): the kernel completes the TCP handshake,
    # so the client connects and then waits for a greeting that never comes.
    with socket.create_server(("127.0.0.1", 0), backlog=4) as listener:
        yield listener.getsockname()[1]


class TestMakeTransport:
    @pytest.mark.parametrize(
        ("url", "security", "port"),
        [
            ("smtp://mail.acme.test", "none", 25),
            ("smtp+starttls://mail.acme.test", "starttls", 587),
            ("smtps://mail.acme.test", "tls", 465),
            ("smtps://mail.acme.test:2465", "tls", 2465),
        ],
    )
    def test_smtp_schemes_choose_security_and_default_port(
        self, url: str, security: str, port: int
    ) -> None:
        """Each SMTP scheme picks its protection and its standard port unless one is given."""
        transport = make_transport(url, timeout=5)
        assert isinstance(transport, SmtpTransport)
        assert (transport.host, transport.port, transport.security) == (
            "mail.acme.test",
            port,
            security,
        )
        assert transport.verify is True
        assert transport.timeout == 5

    def test_console_and_file_schemes(self, tmp_path: Path) -> None:
        """console:// prints and file:///dir writes into that directory."""
        assert isinstance(make_transport("console://", timeout=5), ConsoleTransport)
        transport = make_transport(f"file://{tmp_path}/outbox", timeout=5)
        assert isinstance(transport, FileTransport)
        assert transport.directory == tmp_path / "outbox"

    def test_credentials_are_url_decoded_and_redacted_in_repr(self) -> None:
        """User and password are percent-decoded, and the password never shows in the repr."""
        transport = make_transport("smtp://mail%40acme:s3cr%40t%2F@mail.acme.test", timeout=5)
        assert isinstance(transport, SmtpTransport)
        assert (transport.username, transport.password) == ("mail@acme", "s3cr@t/")
        assert "s3cr" not in repr(transport), repr(transport)
        assert "password='***'" in repr(transport)

    def test_verify_false_turns_off_certificate_checks(self) -> None:
        """?verify=false is the switch for development servers with self-signed certificates."""
        transport = make_transport("smtps://mail.acme.test?verify=false", timeout=5)
        assert isinstance(transport, SmtpTransport)
        assert transport.verify is False

    def test_unknown_scheme_raises_config_error(self) -> None:
        """An unknown scheme fails with one sentence listing the schemes that work."""
        with pytest.raises(ConfigError, match=r"scheme 'smtpx' is unknown: use console://") as e:
            make_transport("smtpx://user:hunter2@mail.acme.test", timeout=5)
        assert "hunter2" not in str(e.value)
        assert isinstance(e.value, ValueError)

    @pytest.mark.parametrize(
        "url",
        [
            "file://relative/outbox",
            "smtp://user:hunter2@",
            "smtp://user:hunter2@mail.acme.test:notaport",
            "smtp://user@mail.acme.test",
            "smtps://user:hunter2@mail.acme.test?verify=maybe",
            "smtps://user:hunter2@mail.acme.test?verfy=false",
        ],
    )
    def test_bad_urls_raise_config_error_without_the_password(self, url: str) -> None:
        """Malformed URLs fail at construction, and the message never repeats the password."""
        with pytest.raises(ConfigError) as e:
            make_transport(url, timeout=5)
        assert "hunter2" not in str(e.value)

    def test_non_positive_timeout_raises_config_error(self) -> None:
        """A zero timeout would fail every delivery, so it is refused up front."""
        with pytest.raises(ConfigError, match="timeout"):
            make_transport("smtp://mail.acme.test", timeout=0)


class TestSmtpTransport:
    @pytest.mark.anyio
    async def test_plain_smtp_delivers_text_and_html_parts(self, smtp_server: Server) -> None:
        """smtp:// delivers the rendered message with both its parts intact."""
        transport = make_transport(f"smtp://127.0.0.1:{smtp_server.port}", timeout=5)
        await transport.send(sign_up_code_message())

        [received] = smtp_server.sink.messages
        assert received["To"] == RECIPIENT
        assert received["Subject"] == "Verify your email for Acme"
        assert received.get_content_type() == "multipart/alternative"
        text = received.get_body(("plain",))
        html = received.get_body(("html",))
        assert text is not None and html is not None
        assert "123456" in text.get_content()
        assert "123456" in html.get_content()

    @pytest.mark.anyio
    async def test_starttls_authenticates_with_decoded_credentials(
        self, starttls_server: Server
    ) -> None:
        """smtp+starttls:// upgrades the connection, then logs in with the decoded password."""
        url = (
            f"smtp+starttls://mailer:p%40ss%3Aw%2Frd@127.0.0.1:{starttls_server.port}?verify=false"
        )
        await make_transport(url, timeout=5).send(sign_up_code_message())

        assert starttls_server.sink.logins == [(b"mailer", b"p@ss:w/rd")]
        assert len(starttls_server.sink.messages) == 1

    @pytest.mark.anyio
    async def test_smtps_delivers_over_implicit_tls(self, smtps_server: Server) -> None:
        """smtps:// speaks TLS from the first byte."""
        url = f"smtps://127.0.0.1:{smtps_server.port}?verify=false"
        await make_transport(url, timeout=5).send(sign_up_code_message())

        assert len(smtps_server.sink.messages) == 1

    @pytest.mark.anyio
    async def test_smtps_rejects_self_signed_certificate_by_default(
        self, smtps_server: Server
    ) -> None:
        """Without ?verify=false an untrusted certificate stops delivery."""
        transport = make_transport(f"smtps://127.0.0.1:{smtps_server.port}", timeout=5)
        with pytest.raises(aiosmtplib.SMTPConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await transport.send(sign_up_code_message())
        assert smtps_server.sink.messages == []


class TestLocalTransports:
    @pytest.mark.anyio
    async def test_file_transport_writes_one_parseable_eml_per_message(
        self, tmp_path: Path
    ) -> None:
        """file:// creates the directory and writes each message to its own .eml file."""
        outbox = tmp_path / "new" / "outbox"
        transport = make_transport(f"file://{outbox}", timeout=5)
        await transport.send(sign_up_code_message(code="111111"))
        await transport.send(sign_up_code_message(code="222222"))

        files = sorted(outbox.glob("*.eml"))
        assert len(files) == 2, files
        codes: set[str] = set()
        for path in files:
            parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            assert parsed["Subject"] == "Verify your email for Acme"
            body = parsed.get_body(("plain",))
            assert body is not None
            codes.update(c for c in ("111111", "222222") if c in body.get_content())
        assert codes == {"111111", "222222"}

    @pytest.mark.anyio
    async def test_console_transport_prints_readable_message(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """console:// prints who and what, the code on a line of its own, and the decoded
        plain text (even when it is not ASCII), and neither MIME nor the HTML copy."""
        await make_transport("console://", timeout=5).send(sign_up_code_message(app_name="Café"))

        out = capsys.readouterr().out
        assert "Subject: Verify your email for Café" in out
        assert f"To:      {RECIPIENT}" in out
        assert "\nCode:    123456\n" in out
        assert "for Café:" in out and "    123456\n" in out
        for mime in ("Content-Type", "MIME-Version", "--- text/html", "<html", "base64"):
            assert mime not in out
        assert len(out.splitlines()) < 30

    @pytest.mark.anyio
    async def test_console_transport_puts_each_link_on_a_line_of_its_own(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        message = EmailMessage()
        message["To"] = RECIPIENT
        message["Subject"] = "Reset your password"
        message.set_content(
            "Open https://example.com/auth/reset-password?link=1#token=abc-123 within an hour."
        )
        message.add_alternative("<p>html copy</p>", subtype="html")
        await make_transport("console://", timeout=5).send(message)
        out = capsys.readouterr().out
        assert "\nLink:    https://example.com/auth/reset-password?link=1#token=abc-123\n" in out
        assert "html copy" not in out


@dataclass
class SlowTransport:
    """Finishes only when the test says so."""

    release: anyio.Event = field(default_factory=anyio.Event)
    sent: list[EmailMessage] = field(default_factory=list)

    async def send(self, message: EmailMessage) -> None:
        await self.release.wait()
        self.sent.append(message)


class TestMailer:
    @pytest.mark.anyio
    async def test_send_returns_before_delivery_and_drain_waits(self) -> None:
        """send() never waits on the transport; drain() waits for every pending delivery."""
        transport = SlowTransport()
        mailer = Mailer(transport)
        mailer.send(sign_up_code_message())
        mailer.send(sign_up_code_message())
        await anyio.sleep(0)
        assert transport.sent == []

        transport.release.set()
        await mailer.drain()
        assert len(transport.sent) == 2
        assert (mailer.sent_count, mailer.failed_count) == (2, 0)

    @pytest.mark.anyio
    async def test_cancelled_delivery_is_logged_as_failed(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A delivery cut short by shutdown is not lost silently."""
        mailer = Mailer(SlowTransport())
        mailer.send(sign_up_code_message())
        await anyio.sleep(0)
        for task in list(mailer._pending):
            task.cancel()
        await mailer.drain()

        assert mailer.failed_count == 1
        [record] = caplog.records
        assert record.getMessage() == (
            "email to ***@example.com failed: CancelledError: delivery cancelled"
        )

    @pytest.mark.anyio
    async def test_success_is_logged_with_masked_recipient(
        self, smtp_server: Server, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A delivered message logs one INFO line with only the recipient's domain."""
        caplog.set_level(logging.INFO, logger="authkit.email")
        mailer = Mailer(make_transport(f"smtp://127.0.0.1:{smtp_server.port}", timeout=5))
        mailer.send(sign_up_code_message())
        await mailer.drain()

        assert len(smtp_server.sink.messages) == 1
        assert mailer.sent_count == 1
        [record] = caplog.records
        assert record.levelno == logging.INFO
        assert record.getMessage() == (
            "email sent to ***@example.com subject='Verify your email for Acme'"
        )

    @pytest.mark.anyio
    async def test_silent_server_logs_one_error_line_within_timeout(
        self, silent_port: int, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A server that never answers fails within the timeout as one ERROR line."""
        caplog.set_level(logging.INFO, logger="authkit.email")
        mailer = Mailer(make_transport(f"smtp://127.0.0.1:{silent_port}", timeout=0.5))
        start = time.monotonic()
        mailer.send(sign_up_code_message())
        await mailer.drain()
        elapsed = time.monotonic() - start

        assert elapsed < 3, elapsed
        assert (mailer.sent_count, mailer.failed_count) == (0, 1)
        [record] = caplog.records
        assert record.levelno == logging.ERROR
        line = record.getMessage()
        assert line.startswith("email to ***@example.com failed: SMTP"), line
        assert "Timeout" in line, line
        assert "\n" not in line
        assert record.exc_info is None
        assert "123456" not in caplog.text
        assert "alice" not in caplog.text

    @pytest.mark.anyio
    async def test_failure_reason_never_contains_the_full_address(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A server reply echoing the address is logged with the address masked."""

        class RefusingTransport:
            async def send(self, message: EmailMessage) -> None:
                raise RuntimeError(f"550 <{RECIPIENT.upper()}>:\r\n unknown user")

        mailer = Mailer(RefusingTransport())
        mailer.send(sign_up_code_message())
        await mailer.drain()

        [record] = caplog.records
        assert record.getMessage() == (
            "email to ***@example.com failed: RuntimeError: 550 <***@EXAMPLE.COM>: unknown user"
        )


class TestRenderEmail:
    def test_builds_headers_and_both_parts(self) -> None:
        """The message carries From, To, Subject, Date and a Message-ID on the sender's domain."""
        message = sign_up_code_message()

        assert message["From"] == SENDER
        assert message["To"] == RECIPIENT
        assert message["Subject"] == "Verify your email for Acme"
        assert message["Date"]
        assert message["Message-ID"].endswith("@acme.test>")
        assert message.get_content_type() == "multipart/alternative"
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert text is not None and html is not None
        assert "123456" in text.get_content()
        assert "123456" in html.get_content()

    @pytest.mark.parametrize("name", sorted(CONTEXTS))
    def test_every_template_renders_with_its_documented_context(self, name: str) -> None:
        """Each packaged email renders with exactly its documented context keys."""
        message = render_email(make_env(), name, CONTEXTS[name], sender=SENDER, to=RECIPIENT)

        subject = str(message["Subject"])
        assert "Acme" in subject
        # Codes stay out of subjects: they show in notification previews and mail logs.
        assert "123456" not in subject and "654321" not in subject
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert text is not None and html is not None
        for key, value in CONTEXTS[name].items():
            if key != "minutes":
                assert str(value) in text.get_content(), key
        assert "<img" not in html.get_content()

    @pytest.mark.parametrize(
        "autoescape",
        [None, True, False],
        ids=["select_autoescape", "always", "never"],
    )
    def test_html_part_is_escaped_and_text_part_is_not(self, autoescape: bool | None) -> None:
        """`<b>&` in the app name is escaped in HTML and verbatim in text and subject."""
        env = make_env(autoescape)
        context = {**CONTEXTS["password_reset_code"], "app_name": "<b>&"}
        message = render_email(env, "password_reset_code", context, sender=SENDER, to=RECIPIENT)

        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert text is not None and html is not None
        assert message["Subject"] == "Reset your <b>& password"
        assert "<b>&" in text.get_content()
        assert "&lt;" not in text.get_content()
        assert "https://acme.test/reset-password?token=abc&x=1" in text.get_content()
        assert "&lt;b&gt;&amp;" in html.get_content()
        assert "<b>&" not in html.get_content()
        assert 'href="https://acme.test/reset-password?token=abc&amp;x=1"' in html.get_content()

    def test_missing_html_template_gives_text_only_message(self) -> None:
        """A host's email without an .html file is sent as plain text."""
        host = jinja2.DictLoader(
            {
                "authkit/email/welcome.subject.txt": "Welcome to {{ app_name }}\n",
                "authkit/email/welcome.txt": "Hi {{ email }}!",
            }
        )
        env = make_env()
        env.loader = jinja2.ChoiceLoader([host, jinja2.PackageLoader("authkit", "templates")])
        message = render_email(
            env, "welcome", {"app_name": "Acme", "email": RECIPIENT}, sender=SENDER, to=RECIPIENT
        )

        assert message["Subject"] == "Welcome to Acme"
        assert message.get_content_type() == "text/plain"
        assert message.get_content() == f"Hi {RECIPIENT}!\n"

    def test_host_template_overrides_packaged_one(self) -> None:
        """A host file at the same path wins over authkit's template."""
        host = jinja2.DictLoader({"authkit/email/password_changed.subject.txt": "Heads up"})
        env = make_env()
        env.loader = jinja2.ChoiceLoader([host, jinja2.PackageLoader("authkit", "templates")])
        message = render_email(
            env, "password_changed", CONTEXTS["password_changed"], sender=SENDER, to=RECIPIENT
        )

        assert message["Subject"] == "Heads up"

    def test_line_break_in_recipient_is_refused(self) -> None:
        """A CR/LF in the recipient cannot add headers such as Bcc."""
        with pytest.raises(ValueError, match="linefeed or carriage return"):
            render_email(
                make_env(),
                "password_changed",
                CONTEXTS["password_changed"],
                sender=SENDER,
                to=f"{RECIPIENT}\r\nBcc: mallory@evil.test",
            )


def test_package_exports_its_public_names() -> None:
    """authkit.email exposes exactly its sorted public API."""
    assert authkit.email.__all__ == sorted(authkit.email.__all__)
    assert set(authkit.email.__all__) == {
        "EmailTransport",
        "Mailer",
        "Outbox",
        "make_transport",
        "render_email",
    }
