"""$dnsmx and $adddns through the socket, with real DNS from the loopback server."""

from __future__ import annotations

from collections.abc import Callable

from tests.agent.conftest import ExportServer, RunningAgent
from tests.engine.dnsserver import DnsTestServer

TABLE = (
    "* smtp.myisp.com:587 $dnsmx:*.google.com $end\n"
    "mx.test backup.example.net $priority:15 $adddns\n"
)


def test_dnsmx_routes_by_the_recipients_real_mx(
    export_server: ExportServer,
    start_agent: Callable[..., RunningAgent],
    dns_server: DnsTestServer,
) -> None:
    export_server.publish(TABLE)
    agent = start_agent(nameservers=[dns_server.address], timeout=1.0)
    assert agent.ask("transport", "ann@google.test") == "OK smtp:[smtp.myisp.com]:587"
    assert agent.ask("transport", "ann@implicit.test") == "NOTFOUND "
    assert agent.ask("transport", "ann@mx.test") == (
        "OK smtp:[mx1.mx.test]:25, [backup.example.net]:25, [mx2.mx.test]:25"
    )


def test_a_servfail_defers_and_a_timeout_too(
    export_server: ExportServer,
    start_agent: Callable[..., RunningAgent],
    dns_server: DnsTestServer,
) -> None:
    export_server.publish(TABLE)
    agent = start_agent(nameservers=[dns_server.address], timeout=0.5)
    assert agent.ask("transport", "ann@servfail.test") == (
        "OK retry:4.4.3 line 1 needs the MX records of servfail.test ($dnsmx), but the lookup "
        "failed temporarily (SERVFAIL); try again later"
    )
    assert agent.ask("transport", "ann@silent.test") == (
        "OK retry:4.4.3 line 1 needs the MX records of silent.test ($dnsmx), but the lookup "
        "failed temporarily (no answer within 0.5 s); try again later"
    )


def test_a_warm_cache_asks_dns_once(
    export_server: ExportServer,
    start_agent: Callable[..., RunningAgent],
    dns_server: DnsTestServer,
) -> None:
    export_server.publish(TABLE)
    agent = start_agent(nameservers=[dns_server.address], timeout=1.0)
    before = len(dns_server.queries)
    for _ in range(20):
        assert agent.ask("transport", "bob@equal.test") == "NOTFOUND "
    assert dns_server.queries[before:] == [("equal.test", "MX")]


def test_a_slow_name_server_holds_up_only_its_own_connection(
    export_server: ExportServer,
    start_agent: Callable[..., RunningAgent],
    dns_server: DnsTestServer,
) -> None:
    import threading
    import time

    export_server.publish(TABLE + "example.com relay.example.net\n")
    agent = start_agent(nameservers=[dns_server.address], timeout=5.0)
    slow = threading.Thread(target=agent.ask, args=("transport", "x@slow.test"))
    slow.start()
    time.sleep(0.2)
    started = time.monotonic()
    assert agent.ask("transport", "bob@example.com") == "OK smtp:[relay.example.net]:25"
    assert time.monotonic() - started < 1.0  # slow.test answers after 3 s
    slow.join()
