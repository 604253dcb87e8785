"""The relay check against real SMTP servers on loopback (aiosmtpd, trustme certificates)."""

from __future__ import annotations

import os
import random
import time

import pytest

from senders.engine import parse_table
from senders.relaycheck import Relay, check_relay, check_relays, relays_of
from tests.relays.smtpservers import PASSWORD, USER, Certificates, silent_server, smtp_server


@pytest.fixture(scope="module")
def certs() -> Certificates:
    return Certificates()


def levels(result: object) -> list[tuple[str, str]]:
    return [(step.name, step.level) for step in result.steps]  # type: ignore[attr-defined]


def no_password_in(result: object) -> None:
    text = repr(result.as_dict())  # type: ignore[attr-defined]
    assert PASSWORD not in text
    assert "UzNjcmV0" not in text  # base64 of the password's start


def test_a_plain_relay_without_credentials_is_usable_but_flagged_as_clear_text() -> None:
    with smtp_server() as (port, recorder):
        result = check_relay(Relay("127.0.0.1", port), timeout=5)
    assert result.verdict == "no STARTTLS: mail to this relay travels in clear"
    assert result.level == "warn"
    assert [name for name, _ in levels(result)] == [
        "DNS",
        "connect",
        "greeting",
        "EHLO",
        "STARTTLS",
        "AUTH mechanisms",
        "QUIT",
    ]
    assert result.steps[0].detail == "127.0.0.1 → 127.0.0.1"
    assert result.steps[2].detail.startswith("220 ")
    assert recorder.mail_from == []  # never MAIL FROM


def test_starttls_with_a_valid_certificate_and_accepted_credentials_is_ready(
    certs: Certificates,
) -> None:
    with smtp_server(starttls=certs.server_context(), auth=True) as (port, recorder):
        relay = Relay("127.0.0.1", port, USER, PASSWORD)
        result = check_relay(relay, timeout=5, context=certs.client_context())
    assert result.verdict == "ready"
    assert result.level == "ok"
    steps = dict((step.name, step.detail) for step in result.steps)
    assert steps["STARTTLS"] == "offered and started"
    assert steps["TLS"].startswith("TLSv1.")
    assert steps["certificate"].startswith("valid for 127.0.0.1")
    assert "expires in" in steps["certificate"]
    assert steps["AUTH mechanisms"] == "LOGIN PLAIN"
    assert steps["AUTH"] == "235 2.7.0 Authentication successful as joe"
    assert recorder.logins == [USER]
    assert recorder.mail_from == []
    no_password_in(result)


def test_refused_credentials_show_the_servers_code_and_text(certs: Certificates) -> None:
    with smtp_server(starttls=certs.server_context(), auth=True) as (port, _):
        relay = Relay("127.0.0.1", port, USER, "wrong")
        result = check_relay(relay, timeout=5, context=certs.client_context())
    assert result.verdict == "credentials refused: 535 5.7.8 Authentication credentials invalid"
    assert result.level == "fail"


def test_a_server_echoing_the_password_in_its_refusal_never_gets_it_into_the_result(
    certs: Certificates,
) -> None:
    with smtp_server(starttls=certs.server_context(), auth=True, echo_password=True) as (port, _):
        relay = Relay("127.0.0.1", port, USER, PASSWORD + "x")
        result = check_relay(relay, timeout=5, context=certs.client_context())
    assert result.verdict == (
        "credentials refused: 535 5.7.8 Authentication credentials invalid (********)"
    )
    assert PASSWORD not in repr(result.as_dict())


def test_implicit_tls_is_used_on_the_submissions_port(certs: Certificates) -> None:
    context = certs.server_context(implicit=True)
    with smtp_server(implicit=context, auth=True) as (port, recorder):
        relay = Relay("127.0.0.1", port, USER, PASSWORD)
        result = check_relay(
            relay, timeout=5, context=certs.client_context(), implicit_tls_ports=frozenset({port})
        )
    assert result.verdict == "ready"
    steps = dict((step.name, step.detail) for step in result.steps)
    assert steps["connect"] == f"connected to 127.0.0.1:{port} (implicit TLS)"
    assert "STARTTLS" not in steps
    assert steps["TLS"].startswith("TLSv1.")
    assert recorder.logins == [USER]


def test_credentials_go_in_clear_to_a_loopback_relay_and_an_unknown_host_is_named() -> None:
    with smtp_server(auth=True) as (port, recorder):
        loopback = check_relay(Relay("127.0.0.1", port, USER, PASSWORD), timeout=5)
        unknown = check_relay(Relay("relay.invalid", port, USER, PASSWORD), timeout=2)
    # Loopback: allowed in clear (the rule's host is this machine).
    assert loopback.verdict == "no STARTTLS: mail to this relay travels in clear"
    assert recorder.logins == [USER]
    assert unknown.verdict.startswith("host not found: relay.invalid (")
    assert unknown.steps[0].name == "DNS"


def test_without_starttls_the_password_is_withheld_unless_the_admin_allows_clear_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("senders.relaycheck.is_loopback", lambda host: False)
    with smtp_server(auth=True) as (port, recorder):
        relay = Relay("127.0.0.1", port, USER, PASSWORD)
        withheld = check_relay(relay, timeout=5)
        assert recorder.logins == []
        allowed = check_relay(relay, timeout=5, allow_plaintext=True)
    assert withheld.verdict == (
        "no STARTTLS: the password would travel in clear — refused to send it"
    )
    assert withheld.level == "fail"
    assert ("AUTH", "fail") in levels(withheld)
    assert allowed.verdict == "no STARTTLS: mail to this relay travels in clear"
    assert recorder.logins == [USER]


def test_an_expired_certificate_fails_and_the_password_is_not_sent(certs: Certificates) -> None:
    with smtp_server(starttls=certs.server_context(expired=True), auth=True) as (port, recorder):
        relay = Relay("127.0.0.1", port, USER, PASSWORD)
        result = check_relay(relay, timeout=5, context=certs.client_context())
    assert result.verdict == (
        "certificate not valid for 127.0.0.1: certificate has expired"
        " — refused to send the password"
    )
    assert recorder.logins == []


def test_a_certificate_for_another_name_fails(certs: Certificates) -> None:
    with smtp_server(starttls=certs.server_context("other.example"), auth=True) as (port, rec):
        relay = Relay("127.0.0.1", port, USER, PASSWORD)
        result = check_relay(relay, timeout=5, context=certs.client_context())
    assert result.verdict.startswith("certificate not valid for 127.0.0.1: ")
    assert "mismatch" in result.verdict.lower() or "not valid for" in result.verdict
    assert rec.logins == []


def test_a_server_that_never_answers_times_out_in_bounded_time() -> None:
    with silent_server() as port:
        started = time.monotonic()
        result = check_relay(Relay("127.0.0.1", port), timeout=1)
        elapsed = time.monotonic() - started
    assert result.verdict == f"timed out after 1 s waiting for the greeting of 127.0.0.1:{port}"
    assert result.level == "fail"
    assert elapsed < 3


def test_a_server_that_closes_at_once_is_reported() -> None:
    with silent_server(close_at_once=True) as port:
        result = check_relay(Relay("127.0.0.1", port), timeout=2)
    assert result.verdict == f"127.0.0.1:{port} closed the connection before its greeting"


def test_a_refused_connection_is_reported() -> None:
    with silent_server() as port:
        pass  # closed again: nothing listens there now
    result = check_relay(Relay("127.0.0.1", port), timeout=2)
    assert result.verdict == f"connection refused by 127.0.0.1:{port}"


def test_relays_are_checked_concurrently_within_the_total_time() -> None:
    with silent_server() as port:
        relays = [Relay("127.0.0.1", port, f"u{i}", "pw") for i in range(4)]
        started = time.monotonic()
        results = check_relays(relays, timeout=1, total_timeout=5)
        elapsed = time.monotonic() - started
    assert [r.level for r in results] == ["fail"] * 4
    assert elapsed < 3  # four 1 s timeouts side by side, not one after the other


def test_a_check_running_past_the_total_time_is_reported_not_waited_for() -> None:
    with silent_server() as port:
        started = time.monotonic()
        (result,) = check_relays([Relay("127.0.0.1", port)], timeout=10, total_timeout=1)
        elapsed = time.monotonic() - started
    assert result.verdict == "not finished within 1 s (checked with the others)"
    assert elapsed < 3


def test_relays_of_a_table_are_distinct_by_host_port_and_user_in_table_order() -> None:
    rules = parse_table(
        "a.example joe:pw1@smtp.x.example:587\n"
        "b.example smtp.y.example\n"
        "c.example joe:pw2@smtp.x.example:587\n"
        "d.example ann:pw3@smtp.x.example:587\n"
    )
    relays = relays_of(enumerate(rules, start=1))
    assert [(r.label, r.rules) for r in relays] == [
        ("joe at smtp.x.example:587", (1, 3)),
        ("smtp.y.example:25", (2,)),
        ("ann at smtp.x.example:587", (4,)),
    ]
    assert "pw1" not in repr(relays)


def test_port_465_speaks_tls_at_once(certs: Certificates) -> None:
    """The real submissions port, on an address of its own in 127/8 (binding 465 needs root)."""
    if os.geteuid() != 0:
        reason = "PORT 465 TEST NOT RUN: binding a port below 1024 needs root (CI runs as root)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)
    host = ".".join(["127", *(str(random.randint(1, 254)) for _ in range(3))])
    context = certs.server_context(host, implicit=True)
    with smtp_server(implicit=context, auth=True, host=host, port=465) as (_, recorder):
        result = check_relay(
            Relay(host, 465, USER, PASSWORD), timeout=5, context=certs.client_context()
        )
    steps = dict((step.name, step.detail) for step in result.steps)
    assert steps["connect"] == f"connected to {host}:465 (implicit TLS)"
    assert "STARTTLS" not in steps
    assert result.verdict == "ready"
    assert recorder.logins == [USER]
