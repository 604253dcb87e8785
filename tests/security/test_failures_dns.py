"""DNS failures: timeouts, SERVFAIL, truncated answers (TC bit, no TCP), slow answers and
a dead nameserver. The "test a message" page and `manage.py route` answer `defer` with
a reason, in bounded time — never a guess, never a hang, never a 500.

A real DNS server on loopback (tests/engine/dnsserver.py) serves the zone; every table
needs the MX lookup ($dnsmx), so each failure reaches the result.
"""

from __future__ import annotations

import io
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from senders.models import MailSender
from tests.conftest_dns import dns_server  # noqa: F401  (a pytest fixture)
from tests.engine.dnsserver import DnsTestServer
from tests.security.conftest import client_as, fill

TABLE = "* relay.example.net $dnsmx:*.mx.test $end\n"
# domain → what the server does with it
FAILURES = {
    "silent.test": "no answer at all (timeout)",
    "servfail.test": "SERVFAIL",
    "truncated.test": "truncated answer, TC bit set, no TCP",
    "slow.test": "answer after 3 s, past the 1 s timeout",
}
BOUND = 6.0  # seconds: the timeouts are 1 s; generous for a loaded machine


def dead_nameserver() -> str:
    """An address where nothing listens (the port was free a moment ago)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"127.0.0.1:{port}"


@pytest.fixture
def own_dns(sender: MailSender, dns_server: DnsTestServer) -> MailSender:  # noqa: F811
    fill(sender, TABLE)
    sender.nameservers = dns_server.address
    sender.save()
    return sender


@pytest.mark.django_db
@pytest.mark.parametrize("domain", sorted(FAILURES))
def test_the_tester_defers_in_bounded_time(
    own_dns: MailSender, django_user_model: Any, settings: Any, domain: str
) -> None:
    settings.DNS_TIMEOUT = 1
    viewer = client_as(django_user_model, "viewer")
    start = time.perf_counter()
    response = viewer.get(
        f"/senders/{own_dns.slug}/test/", {"recipients": f"bob@{domain}", "dns": "sender"}
    )
    seconds = time.perf_counter() - start
    assert response.status_code == 200
    [outcome] = response.context["report"].outcomes
    assert outcome.status == "defer", FAILURES[domain]
    assert outcome.reason
    assert seconds < BOUND


@pytest.mark.django_db
def test_the_tester_defers_when_the_nameserver_is_dead(
    sender: MailSender, django_user_model: Any, settings: Any
) -> None:
    settings.DNS_TIMEOUT = 1
    fill(sender, TABLE)
    sender.nameservers = dead_nameserver()
    sender.save()
    viewer = client_as(django_user_model, "viewer")
    start = time.perf_counter()
    response = viewer.get(
        f"/senders/{sender.slug}/test/",
        {"recipients": "a@mx.test, b@google.test, c@x.test", "dns": "sender"},
    )
    assert time.perf_counter() - start < BOUND  # three domains, one time budget
    statuses = {o.domain: o.status for o in response.context["report"].outcomes}
    assert statuses == {"mx.test": "defer", "google.test": "defer", "x.test": "defer"}


@pytest.mark.parametrize("domain", sorted(FAILURES))
def test_the_route_command_defers_in_bounded_time(
    tmp_path: Path,
    dns_server: DnsTestServer,  # noqa: F811
    domain: str,
) -> None:
    table = tmp_path / "rules.txt"
    table.write_text(TABLE)
    out = io.StringIO()
    start = time.perf_counter()
    call_command(
        "route",
        to=f"bob@{domain}",
        table=str(table),
        nameserver=[dns_server.address],
        timeout=1.0,
        json=True,
        stdout=out,
    )
    assert time.perf_counter() - start < BOUND
    result = json.loads(out.getvalue())
    assert result["status"] == "defer", FAILURES[domain]
    assert result["reason"]


def test_the_route_command_defers_when_the_nameserver_is_dead(tmp_path: Path) -> None:
    table = tmp_path / "rules.txt"
    table.write_text(TABLE)
    out = io.StringIO()
    start = time.perf_counter()
    call_command(
        "route",
        to="bob@mx.test",
        table=str(table),
        nameserver=[dead_nameserver()],
        timeout=1.0,
        json=True,
        stdout=out,
    )
    assert time.perf_counter() - start < BOUND
    assert json.loads(out.getvalue())["status"] == "defer"
