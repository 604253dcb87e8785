"""Real SMTP servers on loopback for the relay check: aiosmtpd, with certificates from trustme."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER = "joe"
PASSWORD = "S3cret:p@ss"


@dataclass
class Recorder:
    """The aiosmtpd handler: remembers logins and anything a client tried to send."""

    logins: list[str] = field(default_factory=list)
    mail_from: list[str] = field(default_factory=list)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        self.mail_from.append(address)
        envelope.mail_from = address
        return "250 OK"


def authenticator(recorder: Recorder, echo: bool = False) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = data.login.decode(), data.password.decode()
        recorder.logins.append(login)
        if login == USER and password == PASSWORD:
            return AuthResult(success=True)
        message = f"535 5.7.8 Authentication credentials invalid ({password})" if echo else None
        return AuthResult(success=False, handled=False, message=message)

    return check


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class Certificates:
    def __init__(self) -> None:
        self.ca = trustme.CA()

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def server_context(
        self, *names: str, expired: bool = False, implicit: bool = False
    ) -> ssl.SSLContext:
        kwargs: dict[str, Any] = {}
        if expired:
            now = dt.datetime.now(dt.UTC)
            kwargs = {
                "not_before": now - dt.timedelta(days=30),
                "not_after": now - dt.timedelta(days=1),
            }
        cert = self.ca.issue_cert(*(names or ("127.0.0.1",)), **kwargs)
        # aiosmtpd's controller checks an implicit-TLS server by connecting to it with the
        # server's own context, which a PROTOCOL_TLS_SERVER context cannot do.
        protocol = ssl.PROTOCOL_TLS if implicit else ssl.PROTOCOL_TLS_SERVER
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context = ssl.SSLContext(protocol)
        cert.configure_cert(context)
        return context


@contextmanager
def smtp_server(
    *,
    starttls: ssl.SSLContext | None = None,
    implicit: ssl.SSLContext | None = None,
    auth: bool = False,
    echo_password: bool = False,
    host: str = "127.0.0.1",
    port: int | None = None,
) -> Iterator[tuple[int, Recorder]]:
    recorder = Recorder()
    server_kwargs: dict[str, Any] = {"auth_require_tls": False}
    if starttls is not None:
        server_kwargs["tls_context"] = starttls
    if auth:
        server_kwargs["authenticator"] = authenticator(recorder, echo_password)
    port = port or free_port(host)
    controller = Controller(
        recorder,
        hostname=host,
        port=port,
        ssl_context=implicit,
        **server_kwargs,
    )
    controller.start()
    try:
        yield port, recorder
    finally:
        controller.stop()


@contextmanager
def silent_server(*, close_at_once: bool = False) -> Iterator[int]:
    """Accepts connections, then says nothing (or hangs up at once)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if close_at_once:
                connection.close()
            else:
                held.append(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        listener.close()
        for connection in held:
            connection.close()
