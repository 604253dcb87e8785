"""Resolvers: DnsResolver against the loopback DNS server, StaticResolver, parsing helpers."""

from __future__ import annotations

import time

import pytest

from senders.engine import (
    DnsResolver,
    Message,
    MxAnswer,
    StaticResolver,
    evaluate,
    parse_mx_records,
    parse_nameserver,
    parse_table,
)
from tests.engine.dnsserver import DnsTestServer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def resolver_for(server: DnsTestServer, **options: object) -> DnsResolver:
    return DnsResolver([server.address], timeout=0.5, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("domain", "answer"),
    [
        ("mx.test", MxAnswer("mx", ((10, "mx1.mx.test"), (20, "mx2.mx.test")))),
        ("MX.Test.", MxAnswer("mx", ((10, "mx1.mx.test"), (20, "mx2.mx.test")))),
        ("equal.test", MxAnswer("mx", ((10, "a.mx.test"), (10, "b.mx.test")))),
        ("nullmx.test", MxAnswer("null")),
        ("nowhere.test", MxAnswer("nxdomain")),
        ("nodata.test", MxAnswer("nodata")),
        ("implicit.test", MxAnswer("nodata")),
        ("servfail.test", MxAnswer("tempfail", reason="SERVFAIL")),
        ("silent.test", MxAnswer("tempfail", reason="no answer within 0.5 s")),
    ],
)
def test_mx_lookups(dns_server: DnsTestServer, domain: str, answer: MxAnswer) -> None:
    assert resolver_for(dns_server).lookup_mx(domain.lower().rstrip(".")) == answer


@pytest.mark.parametrize(
    ("domain", "answer"),
    [
        ("implicit.test", MxAnswer("implicit", ((0, "implicit.test"),))),
        ("implicit6.test", MxAnswer("implicit", ((0, "implicit6.test"),))),
        ("nodata.test", MxAnswer("nodata")),
        ("nowhere.test", MxAnswer("nxdomain")),
        ("servfail.test", MxAnswer("tempfail", reason="SERVFAIL")),
    ],
)
def test_implicit_mx_lookups(dns_server: DnsTestServer, domain: str, answer: MxAnswer) -> None:
    assert resolver_for(dns_server).lookup_implicit_mx(domain) == answer


def test_a_timeout_is_a_temporary_failure_in_bounded_time(dns_server: DnsTestServer) -> None:
    started = time.monotonic()
    result = evaluate([], Message("a@silent.test"), DnsResolver([dns_server.address], timeout=0.3))
    assert time.monotonic() - started < 2
    assert (result.status, result.reason) == (
        "defer",
        "the MX lookup for silent.test failed temporarily (no answer within 0.3 s); "
        "try again later",
    )


@pytest.mark.parametrize(
    ("recipient", "status", "hosts"),
    [
        ("a@mx.test", "dns", ["mx1.mx.test", "mx2.mx.test"]),
        ("a@implicit.test", "dns", ["implicit.test"]),
        ("a@implicit6.test", "dns", ["implicit6.test"]),
        ("a@nullmx.test", "undeliverable", []),
        ("a@nowhere.test", "undeliverable", []),
        ("a@nodata.test", "undeliverable", []),
        ("a@servfail.test", "defer", []),
        ("a@silent.test", "defer", []),
    ],
)
def test_evaluation_against_real_dns(
    dns_server: DnsTestServer, recipient: str, status: str, hosts: list[str]
) -> None:
    result = evaluate([], Message(recipient), resolver_for(dns_server))
    assert (result.status, [hop.host for hop in result.hops]) == (status, hosts)


def test_dnsmx_against_real_dns(dns_server: DnsTestServer) -> None:
    table = parse_table("* relay.example $dnsmx:*.aspmx.l.google.com $end\n")
    resolver = resolver_for(dns_server)
    assert evaluate(table, Message("a@google.test"), resolver).status == "override"
    assert evaluate(table, Message("a@mx.test"), resolver).status == "dns"
    assert evaluate(table, Message("a@servfail.test"), resolver).status == "defer"


def test_the_cache_honours_ttls(dns_server: DnsTestServer) -> None:
    clock = Clock()
    resolver = resolver_for(dns_server, clock=clock)
    before = dns_server.count("short.test", "MX")
    answer = resolver.lookup_mx("short.test")  # TTL 5 s
    assert answer == MxAnswer("mx", ((10, "mx.short.test"),))
    clock.now += 4.9
    assert resolver.lookup_mx("short.test") == answer
    assert dns_server.count("short.test", "MX") == before + 1
    clock.now += 0.2
    assert resolver.lookup_mx("short.test") == answer
    assert dns_server.count("short.test", "MX") == before + 2


def test_negative_answers_are_cached_per_the_soa_minimum(dns_server: DnsTestServer) -> None:
    clock = Clock()
    resolver = resolver_for(dns_server, clock=clock)
    before = dns_server.count("nowhere.test") + dns_server.count("nodata.test")
    resolver.lookup_mx("nowhere.test")
    resolver.lookup_mx("nodata.test")
    clock.now += 29  # the zone's SOA minimum is 30 s
    resolver.lookup_mx("nowhere.test")
    resolver.lookup_mx("nodata.test")
    assert dns_server.count("nowhere.test") + dns_server.count("nodata.test") == before + 2
    clock.now += 2
    resolver.lookup_mx("nowhere.test")
    resolver.lookup_mx("nodata.test")
    assert dns_server.count("nowhere.test") + dns_server.count("nodata.test") == before + 4


def test_temporary_failures_are_not_cached(dns_server: DnsTestServer) -> None:
    resolver = resolver_for(dns_server)
    before = dns_server.count("servfail.test")
    resolver.lookup_mx("servfail.test")
    resolver.lookup_mx("servfail.test")
    assert dns_server.count("servfail.test") == before + 2


def test_the_cache_is_bounded_least_recently_used_first(dns_server: DnsTestServer) -> None:
    resolver = resolver_for(dns_server, cache_size=2)
    before = dns_server.count("mx.test")
    resolver.lookup_mx("mx.test")
    resolver.lookup_mx("equal.test")
    resolver.lookup_mx("mx.test")  # cached, and now the most recently used
    resolver.lookup_mx("google.test")  # evicts equal.test
    resolver.lookup_mx("mx.test")
    assert dns_server.count("mx.test") == before + 1
    equal = dns_server.count("equal.test")
    resolver.lookup_mx("equal.test")
    assert dns_server.count("equal.test") == equal + 1


def test_cache_size_zero_disables_the_cache(dns_server: DnsTestServer) -> None:
    resolver = resolver_for(dns_server, cache_size=0)
    before = dns_server.count("mx.test")
    resolver.lookup_mx("mx.test")
    resolver.lookup_mx("mx.test")
    assert dns_server.count("mx.test") == before + 2


def test_an_unreachable_name_server_is_a_temporary_failure() -> None:
    # Nothing listens on the discard port of loopback: the lookup fails, it does not raise.
    answer = DnsResolver(["127.0.0.1:9"], timeout=0.3).lookup_mx("mx.test")
    assert answer.kind == "tempfail"


def test_the_system_configuration_is_used_without_name_servers() -> None:
    DnsResolver()  # must not raise, even on a machine without /etc/resolv.conf


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("192.0.2.53", ("192.0.2.53", 53)),
        ("192.0.2.53:5353", ("192.0.2.53", 5353)),
        ("2001:db8::53", ("2001:db8::53", 53)),
        ("[2001:db8::53]", ("2001:db8::53", 53)),
        ("[2001:db8::53]:5353", ("2001:db8::53", 5353)),
    ],
)
def test_parse_nameserver(text: str, parsed: tuple[str, int]) -> None:
    assert parse_nameserver(text) == parsed


@pytest.mark.parametrize(
    "text", ["", "dns.example", "192.0.2.53:", "192.0.2.53:0", "192.0.2.53:99999", "[::1]x"]
)
def test_parse_nameserver_rejects_junk(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_nameserver(text)
    assert str(info.value) == f'invalid name server "{text}" (expected IP, IP:PORT or [IPv6]:PORT)'


# ---------------------------------------------------------------- static


def test_static_resolver_kinds() -> None:
    resolver = StaticResolver(
        {"Mx.Example.": [(20, "B.mx.example."), (10, "a.mx.example")], "null.example": [(0, ".")]},
        addresses=["implicit.example"],
        failing=["down.example"],
    )
    assert resolver.lookup_mx("mx.example") == MxAnswer(
        "mx", ((10, "a.mx.example"), (20, "b.mx.example"))
    )
    assert resolver.lookup_mx("null.example") == MxAnswer("null")
    assert resolver.lookup_mx("implicit.example") == MxAnswer("nodata")
    assert resolver.lookup_mx("other.example") == MxAnswer("nxdomain")
    assert resolver.lookup_mx("down.example") == MxAnswer("tempfail", reason="SERVFAIL")
    assert resolver.lookup_implicit_mx("implicit.example") == MxAnswer(
        "implicit", ((0, "implicit.example"),)
    )
    assert resolver.lookup_implicit_mx("mx.example") == MxAnswer("nodata")
    assert resolver.lookup_implicit_mx("other.example") == MxAnswer("nxdomain")


def test_a_null_mx_among_other_records_is_ignored() -> None:
    resolver = StaticResolver({"mixed.example": [(0, "."), (10, "mx.mixed.example")]})
    assert resolver.lookup_mx("mixed.example").hosts == ("mx.mixed.example",)


def test_static_resolver_rejects_bad_hosts() -> None:
    with pytest.raises(ValueError) as info:
        StaticResolver({"x.example": [(10, "bad host")]})
    assert str(info.value) == 'invalid MX host "bad host": invalid character " " in host'


def test_parse_mx_records() -> None:
    text = (
        "10 mx1.example.com\n\n# backup\n20   MX2.example.com.\n"
        "example.com. 300 IN MX 30 mx3.example.com.\n"
    )
    assert parse_mx_records(text) == [
        (10, "mx1.example.com"),
        (20, "mx2.example.com"),
        (30, "mx3.example.com"),
    ]
    assert parse_mx_records("0 .") == [(0, ".")]
    assert parse_mx_records("") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mx1.example.com", 'line 1: expected "<preference> <host>", e.g. "10 mx1.example.com"'),
        ("10 a b", 'line 1: expected "<preference> <host>", e.g. "10 mx1.example.com"'),
        ("\nten mx.example", 'line 2: preference "ten" is not a number 0-65535'),
        ("65536 mx.example", 'line 1: preference "65536" is not a number 0-65535'),
        (
            "10 mx_1.example",
            'line 1: invalid MX host "mx_1.example": invalid character "_" in host',
        ),
    ],
)
def test_parse_mx_records_names_the_bad_line(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_mx_records(text)
    assert str(info.value) == message
