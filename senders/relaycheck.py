"""Check the relays of a table for real: DNS, TCP, greeting, TLS, certificate, AUTH.

For each distinct relay (host, port, user) of a table, connect with bounded
timeouts and report step by step what a mail server would meet: the addresses of
the host, the connect time, the greeting and EHLO, STARTTLS (implicit TLS on 465),
the TLS version and certificate, the AUTH mechanisms and, when the rule carries
credentials, a real AUTH. It never sends MAIL FROM and quits cleanly.

A password is only ever sent over TLS with a verified certificate, or in clear to a
loopback host, or when the caller explicitly allows clear text for that check. It
never appears in a result: server texts that echo it are scrubbed.

No Django here: the web page, the management command and the tests call this.
"""

from __future__ import annotations

import base64
import concurrent.futures
import datetime as dt
import ipaddress
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from senders.engine import Rule

# Ports where TLS starts at once (submissions, RFC 8314) instead of with STARTTLS.
IMPLICIT_TLS_PORTS = frozenset({465})
# A certificate closer to its end than this is worth a warning.
EXPIRY_WARNING_DAYS = 14
MASK = "********"

Level = Literal["ok", "warn", "fail"]


def relay_key(host: str, port: int, username: str | None) -> str:
    """ "user@host:port" (user empty without credentials): names a relay in URLs and results."""
    return f"{username or ''}@{host}:{port}"


@dataclass(frozen=True)
class Relay:
    """One relay as the table uses it: host, port and user (the password is never shown)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False, compare=False)
    rules: tuple[int, ...] = field(default=(), compare=False)

    @property
    def key(self) -> str:
        """Identifies the relay in URLs and stored results (no password in it)."""
        return relay_key(self.host, self.port, self.username)

    @property
    def label(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.username} at " if self.username else ""
        return f"{user}{host}:{self.port}"


@dataclass
class Step:
    name: str
    level: Level
    detail: str
    ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "level": self.level, "detail": self.detail, "ms": self.ms}


@dataclass
class RelayResult:
    relay: Relay
    level: Level
    verdict: str
    steps: list[Step]
    checked_at: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "relay": self.relay.key,
            "host": self.relay.host,
            "port": self.relay.port,
            "username": self.relay.username,
            "rules": list(self.relay.rules),
            "level": self.level,
            "verdict": self.verdict,
            "checked_at": self.checked_at.isoformat(),
            "steps": [step.as_dict() for step in self.steps],
        }


def relays_of(rules: Iterable[tuple[int, Rule]]) -> list[Relay]:
    """The distinct relays of a table, in table order, with the rule positions using each.

    `rules` pairs each rule with its position. The same host, port and user in
    several rules is one relay; its password is the first rule's.
    """
    found: dict[tuple[str, int, str | None], Relay] = {}
    for position, rule in rules:
        server = rule.server
        key = (server.host, server.port, server.username)
        if key in found:
            relay = found[key]
            found[key] = Relay(
                relay.host, relay.port, relay.username, relay.password, (*relay.rules, position)
            )
        else:
            found[key] = Relay(
                server.host, server.port, server.username, server.password, (position,)
            )
    return list(found.values())


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Failed(Exception):
    """A step that ends the check: its verdict for the person reading it."""

    def __init__(self, verdict: str, level: Level = "fail") -> None:
        super().__init__(verdict)
        self.verdict = verdict
        self.level = level


class _SMTP(smtplib.SMTP):
    """smtplib's client, connected to one chosen address but verifying the host's name."""

    address: tuple[Any, ...] = ()

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection(self.address[:2], timeout)


class _SMTPS(smtplib.SMTP_SSL):
    address: tuple[Any, ...] = ()

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        raw = socket.create_connection(self.address[:2], timeout)
        return self.context.wrap_socket(raw, server_hostname=host)


@dataclass
class _Check:
    relay: Relay
    timeout: float
    context: ssl.SSLContext
    allow_plaintext: bool
    helo_name: str
    implicit_tls_ports: frozenset[int] = IMPLICIT_TLS_PORTS
    steps: list[Step] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def step(self, name: str, level: Level, detail: str, started: float | None = None) -> None:
        ms = round((time.monotonic() - started) * 1000, 1) if started is not None else None
        self.steps.append(Step(name, level, self.scrub(detail), ms))

    def scrub(self, text: str) -> str:
        """Server texts may echo what they were sent: never let a password through."""
        password = self.relay.password
        if not password:
            return text
        forms = {password}
        user = (self.relay.username or "").encode()
        for raw in (password.encode(), b"\0" + user + b"\0" + password.encode()):
            forms.add(base64.b64encode(raw).decode("ascii"))
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, MASK)
        return text

    def run(self) -> tuple[Level, str]:
        addresses = self.resolve()
        client = self.connect(addresses)
        try:
            return self.converse(client)
        finally:
            try:
                client.quit()
                self.step("QUIT", "ok", "closed cleanly")
            except (smtplib.SMTPException, OSError):
                client.close()

    def resolve(self) -> list[tuple[Any, ...]]:
        host, port = self.relay.host, self.relay.port
        started = time.monotonic()
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            self.step("DNS", "fail", f"{host}: {error.strerror}", started)
            raise _Failed(f"host not found: {host} ({error.strerror})") from None
        addresses = list(dict.fromkeys(info[4] for info in infos))
        shown = ", ".join(str(address[0]) for address in addresses)
        self.step("DNS", "ok", f"{host} → {shown}", started)
        return addresses

    def connect(self, addresses: Sequence[tuple[Any, ...]]) -> smtplib.SMTP:
        implicit = self.relay.port in self.implicit_tls_ports
        last = ""
        for address in addresses:
            shown = _show(address)
            client: smtplib.SMTP
            if implicit:
                client = _SMTPS(
                    timeout=self.timeout, context=self.context, local_hostname=self.helo_name
                )
            else:
                client = _SMTP(timeout=self.timeout, local_hostname=self.helo_name)
            client.address = address  # type: ignore[attr-defined]
            # STARTTLS checks the certificate against _host, which only __init__ sets.
            client._host = self.relay.host  # type: ignore[attr-defined]
            started = time.monotonic()
            try:
                code, message = client.connect(self.relay.host, self.relay.port)
            except ssl.SSLCertVerificationError as error:
                self.step("TLS", "fail", f"implicit TLS to {shown}: {error.verify_message}")
                raise _Failed(self.certificate_verdict(error.verify_message)) from None
            except ssl.SSLError as error:
                self.step("TLS", "fail", f"implicit TLS to {shown}: {error.reason or error}")
                raise _Failed(f"TLS failed with {shown}: {error.reason or error}") from None
            except TimeoutError:
                last = f"timed out after {self.timeout:g} s connecting to {shown}"
                self.step("connect", "fail", last, started)
                continue
            except ConnectionRefusedError:
                last = f"connection refused by {shown}"
                self.step("connect", "fail", last, started)
                continue
            except smtplib.SMTPServerDisconnected as error:
                # smtplib reports a read that timed out as a disconnection.
                if "timed out" in str(error):
                    last = f"timed out after {self.timeout:g} s waiting for the greeting of {shown}"
                else:
                    last = f"{shown} closed the connection before its greeting"
                self.step("greeting", "fail", last, started)
                continue
            except OSError as error:
                last = f"cannot connect to {shown}: {error.strerror or error}"
                self.step("connect", "fail", last, started)
                continue
            tls = " (implicit TLS)" if implicit else ""
            self.step("connect", "ok", f"connected to {shown}{tls}", started)
            greeting = f"{code} {_text(message)}"
            if code != 220:
                self.step("greeting", "fail", greeting)
                client.close()
                raise _Failed(f"the server refused the session: {greeting}")
            self.step("greeting", "ok", greeting)
            if implicit:
                self.note_tls(client)
            return client
        raise _Failed(last or f"no address to connect to for {self.relay.host}")

    def converse(self, client: smtplib.SMTP) -> tuple[Level, str]:
        implicit = self.relay.port in self.implicit_tls_ports
        self.ehlo(client)
        secure = implicit
        if not implicit:
            if client.has_extn("starttls"):
                started = time.monotonic()
                try:
                    client.starttls(context=self.context)
                except ssl.SSLCertVerificationError as error:
                    self.step("STARTTLS", "fail", error.verify_message, started)
                    raise _Failed(self.certificate_verdict(error.verify_message)) from None
                except (ssl.SSLError, smtplib.SMTPException, OSError) as error:
                    self.step("STARTTLS", "fail", str(error), started)
                    raise _Failed(f"STARTTLS failed: {error}") from None
                self.step("STARTTLS", "ok", "offered and started", started)
                self.note_tls(client)
                self.ehlo(client)
                secure = True
            else:
                self.step("STARTTLS", "warn", "not offered: mail travels in clear")
        mechanisms = client.esmtp_features.get("auth", "").split()
        if mechanisms:
            self.step("AUTH mechanisms", "ok", " ".join(mechanisms))
        else:
            self.step("AUTH mechanisms", "warn" if self.relay.username else "ok", "none offered")
        if self.relay.username is None:
            return self.finish(secure)
        if not secure and not (self.allow_plaintext or is_loopback(self.relay.host)):
            self.step("AUTH", "fail", "not sent: no TLS")
            raise _Failed("no STARTTLS: the password would travel in clear — refused to send it")
        if not mechanisms:
            raise _Failed("the server offers no AUTH: it would refuse the credentials")
        started = time.monotonic()
        try:
            code, message = client.login(self.relay.username, self.relay.password or "")
        except smtplib.SMTPAuthenticationError as error:
            answer = self.scrub(f"{error.smtp_code} {_text(error.smtp_error)}")
            self.step("AUTH", "fail", answer, started)
            raise _Failed(f"credentials refused: {answer}") from None
        except smtplib.SMTPException as error:
            self.step("AUTH", "fail", str(error), started)
            raise _Failed(f"AUTH failed: {self.scrub(str(error))}") from None
        self.step("AUTH", "ok", f"{code} {_text(message)} as {self.relay.username}", started)
        return self.finish(secure)

    def ehlo(self, client: smtplib.SMTP) -> None:
        started = time.monotonic()
        code, message = client.ehlo()
        if code != 250:
            self.step("EHLO", "fail", f"{code} {_text(message)}", started)
            raise _Failed(f"EHLO refused: {code} {_text(message)}")
        features = " ".join(sorted(client.esmtp_features)) or "no extensions"
        self.step("EHLO", "ok", f"{code}: {features}", started)

    def note_tls(self, client: smtplib.SMTP) -> None:
        sock = client.sock
        if not isinstance(sock, ssl.SSLSocket):
            return
        self.step("TLS", "ok", f"{sock.version()}, {sock.cipher()[0] if sock.cipher() else ''}")
        cert = sock.getpeercert() or {}
        not_after = cert.get("notAfter")
        if not isinstance(not_after, str):
            return
        expires = dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), dt.UTC)
        days = (expires - dt.datetime.now(dt.UTC)).days
        subject = _name_of(cert)
        detail = f"valid for {self.relay.host} ({subject}), expires in {days} days"
        if days < EXPIRY_WARNING_DAYS:
            self.step("certificate", "warn", detail)
            self.warnings.append(f"certificate expires in {days} day{'s' if days != 1 else ''}")
        else:
            self.step("certificate", "ok", detail)

    def certificate_verdict(self, reason: str) -> str:
        refused = " — refused to send the password" if self.relay.username else ""
        return f"certificate not valid for {self.relay.host}: {reason}{refused}"

    def finish(self, secure: bool) -> tuple[Level, str]:
        if self.warnings:
            return "warn", "; ".join(self.warnings)
        if not secure:
            return "warn", "no STARTTLS: mail to this relay travels in clear"
        return "ok", "ready"


def check_relay(
    relay: Relay,
    *,
    timeout: float = 10.0,
    context: ssl.SSLContext | None = None,
    allow_plaintext: bool = False,
    helo_name: str | None = None,
    implicit_tls_ports: frozenset[int] = IMPLICIT_TLS_PORTS,
) -> RelayResult:
    """Check one relay; never raises for anything the network or the server does."""
    check = _Check(
        relay,
        timeout,
        context or ssl.create_default_context(),
        allow_plaintext,
        helo_name or socket.getfqdn(),
        implicit_tls_ports,
    )
    try:
        level, verdict = check.run()
    except _Failed as failed:
        level, verdict = failed.level, failed.verdict
    except (smtplib.SMTPException, OSError) as error:
        level, verdict = "fail", check.scrub(f"the conversation failed: {error}")
        check.step("error", "fail", verdict)
    return RelayResult(relay, level, check.scrub(verdict), check.steps, dt.datetime.now(dt.UTC))


def check_relays(
    relays: Sequence[Relay],
    *,
    total_timeout: float = 30.0,
    concurrency: int = 8,
    check: Callable[..., RelayResult] = check_relay,
    **options: Any,
) -> list[RelayResult]:
    """Check relays concurrently (`options` go to `check_relay`).

    A relay still running after `total_timeout` is reported as not finished; the
    caller never waits longer than that.
    """
    if not relays:
        return []
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(relays))))
    futures = [pool.submit(check, relay, **options) for relay in relays]
    concurrent.futures.wait(futures, timeout=total_timeout)
    pool.shutdown(wait=False, cancel_futures=True)
    results = []
    for relay, future in zip(relays, futures, strict=True):
        if future.done() and not future.cancelled():
            results.append(future.result())
        else:
            verdict = f"not finished within {total_timeout:g} s (checked with the others)"
            results.append(
                RelayResult(
                    relay, "fail", verdict, [Step("time", "fail", verdict)], dt.datetime.now(dt.UTC)
                )
            )
    return results


def _show(address: tuple[Any, ...]) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _text(message: bytes | str) -> str:
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return " ".join(message.split())


def _name_of(cert: dict[str, Any]) -> str:
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return f"CN={value}"
    names = [
        value for kind, value in cert.get("subjectAltName", ()) if kind in ("DNS", "IP Address")
    ]
    return "names " + ", ".join(names) if names else "no subject name"
