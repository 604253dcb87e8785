"""Evaluation: every statement and worked example of the spec's Evaluation section."""

from __future__ import annotations

from typing import Any

import pytest

from senders.engine import (
    Message,
    NextHop,
    Result,
    StaticResolver,
    TraceStep,
    compile_table,
    evaluate,
    parse_rule,
    parse_table,
)

WORKED_TABLE = """\
example.com      smtp.myisp.com
*                relay.myisp.com:587 $size>10000000 $end
*                joe:let:me@in@smtp.corp.example $authsender=joe $end
*                backup.example.net $retries>=3 $priority:20 $adddns
*.demon.co.uk    smtp.demon.net
*                smtp.myisp.com $dnsmx:*.aspmx.l.google.com $end
"""

WORLD = StaticResolver(
    {
        "example.com": [(10, "mx.example.com")],
        "x.org": [(10, "mx1.x.org"), (20, "mx2.x.org")],
        "customer.com": [(1, "ASPMX.L.GOOGLE.COM."), (5, "alt1.aspmx.l.google.com.")],
        "equal.example": [(10, "b.mx.example"), (10, "a.mx.example"), (5, "c.mx.example")],
        "nullmx.example": [(0, ".")],
        "nomx.example": [],
        "relay.example": [(10, "relay.myisp.com"), (30, "other.relay.example")],
    },
    addresses=["implicit.example"],
    failing=["broken.example"],
    failing_addresses=["halfbroken.example"],
)


def world() -> StaticResolver:
    """A fresh copy of WORLD, so that each test sees only its own queries."""
    copy = StaticResolver()
    copy.__dict__.update({**WORLD.__dict__, "queries": []})
    return copy


def route(
    table: str,
    recipient: str = "bob@example.com",
    resolver: StaticResolver | None = None,
    **fields: Any,
) -> Result:
    return evaluate(parse_table(table), Message(recipient, **fields), resolver or world())


def hops(result: Result) -> list[tuple[Any, ...]]:
    return [(h.host, h.port, h.preference, h.source, h.line) for h in result.hops]


def matched(result: Result) -> list[int]:
    return [step.line for step in result.trace if step.matched]


# ---------------------------------------------------------------- worked examples


def test_worked_example_small_message_to_example_com() -> None:
    resolver = world()
    result = route(WORKED_TABLE, "bob@example.com", size=2000, resolver=resolver)
    assert result.status == "override"
    assert result.reason == "line 1 matched"
    assert result.domain == "example.com"
    assert hops(result) == [("smtp.myisp.com", 25, 10, "override", 1)]
    assert result.matched_lines == (1,)
    assert result.trace == (
        TraceStep(1, True, 'domain "example.com" matches "example.com"'),
        TraceStep(2, False, "$size>10000000 failed (size is 2000)"),
        TraceStep(3, False, "$authsender=joe failed (auth sender is empty)"),
        TraceStep(4, False, "$retries>=3 failed (retries is 0)"),
        TraceStep(5, False, 'domain "example.com" does not match "*.demon.co.uk"'),
        TraceStep(
            6,
            False,
            "$dnsmx:*.aspmx.l.google.com failed (MX hosts of example.com: mx.example.com)",
        ),
    )
    # Line 6 was reached, so the MX records were needed once, and only them.
    assert resolver.queries == [("MX", "example.com")]


def test_worked_example_big_message_to_example_com() -> None:
    result = route(WORKED_TABLE, "bob@example.com", size=20_000_000)
    assert result.status == "override"
    assert result.reason == "lines 1 and 2 matched ($end on line 2)"
    assert hops(result) == [
        ("smtp.myisp.com", 25, 10, "override", 1),
        ("relay.myisp.com", 587, 10, "override", 2),
    ]
    assert [(step.line, step.matched, step.end) for step in result.trace] == [
        (1, True, False),
        (2, True, True),
    ]
    assert result.trace[1].why == (
        'domain "example.com" matches "*"; $size>10000000 holds (size is 20000000); '
        "$end: later lines are not checked"
    )


def test_worked_example_authenticated_joe() -> None:
    resolver = world()
    result = route(WORKED_TABLE, "a@x.org", auth_sender="JOE", resolver=resolver)
    assert result.status == "override"
    assert result.reason == "line 3 matched ($end)"
    assert result.hops == (NextHop("smtp.corp.example", 25, 10, "override", 3, "joe", "let:me@in"),)
    assert matched(result) == [3]
    assert len(result.trace) == 3
    assert resolver.queries == []


def test_worked_example_retries_adds_dns() -> None:
    result = route(WORKED_TABLE, "a@x.org", retries=5)
    assert result.status == "override+dns"
    assert result.reason == "line 4 matched; $adddns adds the MX hosts of x.org"
    assert hops(result) == [
        ("mx1.x.org", 25, 10, "dns", None),
        ("backup.example.net", 25, 20, "override", 4),
        ("mx2.x.org", 25, 20, "dns", None),
    ]


def test_worked_example_google_hosted_customer() -> None:
    result = route(WORKED_TABLE, "a@customer.com")
    assert result.status == "override"
    assert hops(result) == [("smtp.myisp.com", 25, 10, "override", 6)]
    assert result.trace[-1] == TraceStep(
        6,
        True,
        'domain "customer.com" matches "*"; $dnsmx:*.aspmx.l.google.com holds '
        "(MX hosts of customer.com: aspmx.l.google.com, alt1.aspmx.l.google.com); "
        "$end: later lines are not checked",
        end=True,
    )


# ---------------------------------------------------------------- domain patterns


@pytest.mark.parametrize(
    ("pattern", "recipient", "matches"),
    [
        ("example.com", "bob@example.com", True),
        ("example.com", "bob@EXAMPLE.Com", True),
        ("EXAMPLE.COM", "bob@example.com", True),
        ("example.com", "bob@example.com.", True),
        ("example.com.", "example.com", True),
        ("example.com", "bob@www.example.com", False),
        ("example.com", "bob@example.co", False),
        ("*", "a@anything.example", True),
        ("*", "localhost", True),
        ("*.demon.co.uk", "a@host.demon.co.uk", True),
        ("*.demon.co.uk", "a@a.b.demon.co.uk", True),
        ("*.demon.co.uk", "a@demon.co.uk", False),
        ("*.demon.co.uk", "a@xdemon.co.uk", False),
        ("*demon.co.uk", "a@demon.co.uk", True),
        ("*demon.co.uk", "a@xdemon.co.uk", True),
        ("mail?.example.org", "a@mail1.example.org", True),
        ("mail?.example.org", "a@MAILX.example.org", True),
        ("mail?.example.org", "a@mail.example.org", False),
        ("mail?.example.org", "a@mail12.example.org", False),
        ("a*b", "a@ab", True),
        ("a*b", "a@a.x.b", True),
        ("a*b", "a@a.x.bc", False),
        ("*.*", "a@x.y", True),
        ("*.*", "a@localhost", False),
        ("ex*ple.c?m", "a@example.com", True),
        ("?", "a@x", True),
        ("?", "a@xy", False),
        ("example.*", "a@example.org", True),
        ("example.*", "a@example", False),
        ("bücher.example", "a@bücher.example", True),
        ("bücher.example", "a@BÜCHER.example", True),
        ("bücher.example", "a@xn--bcher-kva.example", True),
        ("xn--bcher-kva.example", "a@bücher.example", True),
        ("*.bücher.example", "a@www.bücher.example", True),
        ("_x.example", "a@_x.example", True),
        # IDNA2008, UTS #46 non-transitional: straße is not strasse.
        ("straße.example", "a@STRAßE.example", True),
        ("straße.example", "a@xn--strae-oqa.example", True),
        ("straße.example", "a@strasse.example", False),
        ("strasse.example", "a@straße.example", False),
    ],
)
def test_domain_patterns_match_as_the_spec_says(
    pattern: str, recipient: str, matches: bool
) -> None:
    result = route(f"{pattern} smtp.relay.example", recipient)
    assert (result.status == "override") is matches


# ---------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("condition", "fields", "holds"),
    [
        ("$size>100", {"size": 101}, True),
        ("$size>100", {"size": 100}, False),
        ("$size>=100", {"size": 100}, True),
        ("$size<100", {"size": 99}, True),
        ("$size<100", {"size": 100}, False),
        ("$size<=100", {"size": 100}, True),
        ("$size=100", {"size": 100}, True),
        ("$size==100", {"size": 101}, False),
        ("$size<>100", {"size": 101}, True),
        ("$size!=100", {"size": 100}, False),
        ("$size>9", {"size": 10}, True),  # integers, not text: "10" < "9"
        ("$size=007", {"size": 7}, True),
        ("$retries>=3", {"retries": 3}, True),
        ("$retries>=3", {}, False),
        ("$retries=0", {}, True),
        ("$authsender=joe", {"auth_sender": "JOE"}, True),
        ("$authsender=JOE", {"auth_sender": "joe"}, True),
        ("$authsender=joe", {}, False),
        ("$authsender=", {}, True),
        ("$authsender==", {"auth_sender": "joe"}, False),
        ("$authsender!=", {"auth_sender": "joe"}, True),
        ("$authsender<>joe", {"auth_sender": "Joe"}, False),
        ("$authsender=josé", {"auth_sender": "JOSÉ"}, True),
        ("$authsender=straße", {"auth_sender": "STRASSE"}, False),
        ("$from=", {"sender": ""}, True),
        ("$from=", {"sender": "a@b.example"}, False),
        ("$from==Bob@Example.com", {"sender": "bob@example.COM"}, True),
        # Ordering is by character code after lower-casing: 3 < a < b.
        ("$from<b", {"sender": "a@x"}, True),
        ("$from<b", {"sender": "B"}, False),
        ("$from<=b", {"sender": "B"}, True),
        ("$from>a", {"sender": "3"}, False),
        ("$from<a", {"sender": "3"}, True),
        ("$from>=Z", {"sender": "z"}, True),
        ("$from>A", {"sender": "b"}, True),
        # Wildcards: whole value, case-insensitive.
        ("$from~=*@example.com", {"sender": "Bob@EXAMPLE.com"}, True),
        ("$from~=*@example.com", {"sender": "bob@example.com.au"}, False),
        ("$from~=*@example.com", {"sender": ""}, False),
        ("$from~=*", {"sender": ""}, True),
        ("$from~=b?b@*", {"sender": "bob@x"}, True),
        ("$from~=b?b@*", {"sender": "bb@x"}, False),
        ("$from~=*.[x]*", {"sender": "a.[x]"}, True),
        ("$from~=josé@*", {"sender": "JOSÉ@x"}, True),
        ("$from~=jos?@*", {"sender": "josé@x"}, True),
        ("$from~!*@example.com", {"sender": "bob@example.com"}, False),
        ("$from~!*@example.com", {"sender": "bob@other.example"}, True),
        # Regexes: a search, case-sensitive unless /i, on the value as given.
        ("$from~=/example/", {"sender": "bob@example.com"}, True),
        ("$from~=/Example/", {"sender": "bob@example.com"}, False),
        ("$from~=/Example/i", {"sender": "bob@example.com"}, True),
        ("$from~=/^bob@/", {"sender": "Bob@x"}, False),
        ("$from~=/^Bob@/", {"sender": "Bob@x"}, True),
        ("$from~=/@example\\.com$/i", {"sender": "a@EXAMPLE.COM"}, True),
        ("$from~=/@example\\.com$/i", {"sender": "a@exampleXcom"}, False),
        ("$from~=/a/b/", {"sender": "xa/by"}, True),
        ("$from~=/É/i", {"sender": "é"}, True),
        ("$from~!/example/", {"sender": "bob@example.com"}, False),
        ("$from~!/example/", {"sender": "bob@other.org"}, True),
        ("$authsender~=/^(joe|ann)$/", {"auth_sender": "ann"}, True),
        ("$authsender~=/^(joe|ann)$/", {"auth_sender": "anne"}, False),
        ("$from~=/x/", {"sender": "a\ud800x"}, True),  # a lone surrogate does not crash
    ],
)
def test_conditions_hold_as_the_spec_says(
    condition: str, fields: dict[str, Any], holds: bool
) -> None:
    result = route(f"* relay.example {condition}", "a@x.org", **fields)
    assert (result.status == "override") is holds


def test_all_conditions_must_hold_and_the_first_failure_is_reported() -> None:
    table = "* relay.example $size>10 $retries>1 $from=a\n"
    assert route(table, size=11, retries=2, sender="A").status == "override"
    result = route(table, size=11, retries=0, sender="b")
    assert result.trace == (TraceStep(1, False, "$retries>1 failed (retries is 0)"),)


def test_a_line_whose_domain_or_earlier_condition_fails_never_looks_up_dns() -> None:
    resolver = world()
    table = "other.example relay.example $dnsmx:*\n* relay.example $size>100 $dnsmx:*\n"
    result = route(table, "a@x.org", size=5, resolver=resolver)
    assert result.trace[1].why == "$size>100 failed (size is 5)"
    # Only the final "no line matched" needs the MX records.
    assert resolver.queries == [("MX", "x.org")]


def test_text_in_trace_shows_the_value_looked_at() -> None:
    result = route("* relay.example $from~=*@example.com\n", "a@x.org", sender="bob@x.org")
    assert result.trace[0].why == '$from~=*@example.com failed (sender is "bob@x.org")'


# ---------------------------------------------------------------- $dnsmx


@pytest.mark.parametrize(
    ("condition", "domain", "holds"),
    [
        ("$dnsmx:*.aspmx.l.google.com", "customer.com", True),
        ("$dnsmx:aspmx.l.google.com", "customer.com", True),
        ("$dnsmx:ASPMX.L.GOOGLE.COM.", "customer.com", True),
        ("$dnsmx:*.example.org", "customer.com", False),
        ("$dnsmx:!*.aspmx.l.google.com", "customer.com", False),
        ("$dnsmx:!*.example.org", "customer.com", True),
        ("$dnsmx:mx?.x.org", "x.org", True),
        ("$dnsmx:*", "x.org", True),
        # No published MX host names: no MX, NXDOMAIN, implicit MX, null MX.
        ("$dnsmx:*", "nomx.example", False),
        ("$dnsmx:!*", "nomx.example", True),
        ("$dnsmx:*", "nowhere.example", False),
        ("$dnsmx:!*", "nowhere.example", True),
        ("$dnsmx:*", "implicit.example", False),
        ("$dnsmx:!implicit.example", "implicit.example", True),
        ("$dnsmx:*", "nullmx.example", False),
        ("$dnsmx:!*", "nullmx.example", True),
        # Repeated: all must hold.
        ("$dnsmx:*.google.com $dnsmx:!alt*", "customer.com", False),
        ("$dnsmx:*.google.com $dnsmx:!mx*", "customer.com", True),
    ],
)
def test_dnsmx_holds_as_the_spec_says(condition: str, domain: str, holds: bool) -> None:
    result = route(f"* relay.example {condition}", f"a@{domain}")
    assert (result.status == "override") is holds


def test_dnsmx_temporary_failure_defers_and_stops() -> None:
    table = "* a.example $size>5\n* relay.example $dnsmx:*.google.com\n* c.example\n"
    result = route(table, "a@broken.example")
    assert result.status == "defer"
    assert result.hops == ()
    assert result.reason == (
        "line 2 needs the MX records of broken.example ($dnsmx), but the lookup failed "
        "temporarily (SERVFAIL); try again later"
    )
    assert result.trace == (
        TraceStep(1, False, "$size>5 failed (size is 0)"),
        TraceStep(
            2,
            False,
            "$dnsmx:*.google.com cannot be decided: the MX lookup for broken.example "
            "failed temporarily (SERVFAIL)",
        ),
    )


def test_the_mx_lookup_happens_at_most_once() -> None:
    resolver = world()
    table = (
        "* a.example $dnsmx:*.x.org\n* b.example $dnsmx:!*.google.com $adddns\n"
        "* c.example $dnsmx:mx1*\n"
    )
    result = route(table, "a@x.org", resolver=resolver)
    assert result.status == "override+dns"
    assert resolver.queries == [("MX", "x.org")]


def test_no_lookup_when_dnsmx_is_not_reached() -> None:
    resolver = world()
    table = "x.org a.example $end\n* b.example $dnsmx:*\n"
    assert route(table, "a@x.org", resolver=resolver).status == "override"
    assert resolver.queries == []


# ---------------------------------------------------------------- the algorithm


def test_every_matching_line_contributes_a_hop_in_table_order() -> None:
    table = "* c.example\nx.org a.example\n*.org b.example\nother.org d.example\n"
    result = route(table, "a@x.org")
    assert hops(result) == [
        ("c.example", 25, 10, "override", 1),
        ("a.example", 25, 10, "override", 2),
        ("b.example", 25, 10, "override", 3),
    ]
    assert result.reason == "lines 1, 2 and 3 matched"
    assert [step.line for step in result.trace] == [1, 2, 3, 4]


def test_end_stops_and_later_lines_are_not_in_the_trace() -> None:
    table = "x.org a.example $size>1 $end\nx.org b.example $end\nx.org c.example\n"
    result = route(table, "a@x.org")
    assert hops(result) == [("b.example", 25, 10, "override", 2)]
    assert [(step.line, step.matched, step.end) for step in result.trace] == [
        (1, False, False),
        (2, True, True),
    ]


def test_end_on_a_line_that_does_not_match_does_not_stop() -> None:
    result = route("x.org a.example $size>1 $end\nx.org b.example\n", "a@x.org")
    assert hops(result) == [("b.example", 25, 10, "override", 2)]


def test_no_match_uses_the_real_mx_records() -> None:
    result = route("other.example relay.example\n", "a@x.org")
    assert result.status == "dns"
    assert result.reason == "no line matched: delivering to the MX hosts of x.org"
    assert hops(result) == [("mx1.x.org", 25, 10, "dns", None), ("mx2.x.org", 25, 20, "dns", None)]
    assert result.trace == (TraceStep(1, False, 'domain "x.org" does not match "other.example"'),)


def test_an_empty_table_uses_the_real_mx_records() -> None:
    result = evaluate([], Message("a@x.org"), world())
    assert result.status == "dns" and result.trace == ()


def test_no_mx_but_an_address_is_the_implicit_mx() -> None:
    resolver = world()
    result = route("", "a@implicit.example", resolver=resolver)
    assert result.status == "dns"
    assert result.reason == (
        "no line matched and implicit.example has no MX records: delivering to "
        "implicit.example itself (implicit MX, RFC 5321)"
    )
    assert hops(result) == [("implicit.example", 25, 0, "dns", None)]
    assert resolver.queries == [("MX", "implicit.example"), ("A/AAAA", "implicit.example")]


def test_the_address_lookup_is_made_only_for_a_domain_without_mx() -> None:
    resolver = world()
    route("", "a@x.org", resolver=resolver)
    route("* relay.example $adddns", "a@nullmx.example", resolver=resolver)
    assert resolver.queries == [("MX", "x.org"), ("MX", "nullmx.example")]


def test_equal_preferences_keep_table_order_overrides_before_dns() -> None:
    table = "* z.example $adddns\n* y.example $priority:5\n* a.example $priority:10\n"
    result = route(table, "a@equal.example")
    assert hops(result) == [
        ("y.example", 25, 5, "override", 2),
        ("c.mx.example", 25, 5, "dns", None),
        ("z.example", 25, 10, "override", 1),
        ("a.example", 25, 10, "override", 3),
        ("a.mx.example", 25, 10, "dns", None),
        ("b.mx.example", 25, 10, "dns", None),
    ]
    assert result.status == "override+dns"


def test_dns_hosts_of_equal_preference_are_listed_by_name() -> None:
    result = route("", "a@equal.example")
    assert [hop.host for hop in result.hops] == ["c.mx.example", "a.mx.example", "b.mx.example"]


def test_priority_sets_the_preference_default_10() -> None:
    table = "* b.example\n* a.example $priority:0\n* c.example $priority:65535\n"
    assert hops(route(table, "a@x.org")) == [
        ("a.example", 25, 0, "override", 2),
        ("b.example", 25, 10, "override", 1),
        ("c.example", 25, 65535, "override", 3),
    ]


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        # The same host twice: once, at the best preference, with that entry's line.
        (
            "* a.example $priority:20\n* a.example $priority:5\n",
            [("a.example", 25, 5, "override", 2)],
        ),
        ("* a.example\n* A.EXAMPLE.\n", [("a.example", 25, 10, "override", 1)]),
        # A different port or different credentials is a different hop.
        (
            "* a.example\n* a.example:587\n",
            [("a.example", 25, 10, "override", 1), ("a.example", 587, 10, "override", 2)],
        ),
        (
            "* a.example\n* u:p@a.example\n* u:q@a.example\n* u:p@a.example\n",
            [
                ("a.example", 25, 10, "override", 1),
                ("a.example", 25, 10, "override", 2),
                ("a.example", 25, 10, "override", 3),
            ],
        ),
    ],
)
def test_the_same_host_port_and_credentials_appear_once(
    table: str, expected: list[tuple[Any, ...]]
) -> None:
    assert hops(route(table, "a@x.org")) == expected


def test_adddns_naming_one_of_the_domains_own_mx_hosts_lists_it_once() -> None:
    # mx1.x.org is x.org's MX at 10: the override at 10 comes first in table order and stays.
    result = route("* mx1.x.org $adddns\n", "a@x.org")
    assert hops(result) == [
        ("mx1.x.org", 25, 10, "override", 1),
        ("mx2.x.org", 25, 20, "dns", None),
    ]
    assert result.status == "override+dns"
    # At a worse preference the DNS entry is the best one and keeps its source.
    result = route("* mx1.x.org $priority:50 $adddns\n", "a@x.org")
    assert hops(result) == [("mx1.x.org", 25, 10, "dns", None), ("mx2.x.org", 25, 20, "dns", None)]


def test_adddns_whose_dns_hosts_are_all_listed_already_is_override() -> None:
    result = route("* mx1.x.org $adddns\n* mx2.x.org\n", "a@x.org")
    assert result.status == "override"
    assert result.reason == (
        "lines 1 and 2 matched; $adddns adds nothing: the DNS hosts are already listed"
    )


@pytest.mark.parametrize(
    ("recipient", "status", "reason"),
    [
        (
            "a@nullmx.example",
            "undeliverable",
            "no line matched and nullmx.example publishes a null MX (RFC 7505): it accepts no mail",
        ),
        (
            "a@nowhere.example",
            "undeliverable",
            "no line matched and nowhere.example does not exist (NXDOMAIN)",
        ),
        (
            "a@nomx.example",
            "undeliverable",
            "no line matched and nomx.example has no MX, A or AAAA records",
        ),
        (
            "a@broken.example",
            "defer",
            "the MX lookup for broken.example failed temporarily (SERVFAIL); try again later",
        ),
        (
            "a@halfbroken.example",
            "undeliverable",
            "no line matched and halfbroken.example does not exist (NXDOMAIN)",
        ),
    ],
)
def test_no_match_edge_cases(recipient: str, status: str, reason: str) -> None:
    result = route("other.example relay.example\n", recipient)
    assert (result.status, result.reason, result.hops) == (status, reason, ())


def test_address_lookup_failure_defers() -> None:
    resolver = StaticResolver({"half.example": []}, failing_addresses=["half.example"])
    result = evaluate([], Message("a@half.example"), resolver)
    assert result.status == "defer"
    assert result.reason == (
        "the A/AAAA lookup for half.example failed temporarily (SERVFAIL); try again later"
    )


@pytest.mark.parametrize(
    ("recipient", "status", "reason", "expected"),
    [
        (
            "a@nullmx.example",
            "override",
            "line 1 matched; $adddns adds nothing: nullmx.example publishes a null MX "
            "(RFC 7505): it accepts no mail",
            [("relay.example", 25, 10, "override", 1)],
        ),
        (
            "a@nowhere.example",
            "override",
            "line 1 matched; $adddns adds nothing: nowhere.example does not exist (NXDOMAIN)",
            [("relay.example", 25, 10, "override", 1)],
        ),
        (
            "a@nomx.example",
            "override",
            "line 1 matched; $adddns adds nothing: nomx.example has no MX, A or AAAA records",
            [("relay.example", 25, 10, "override", 1)],
        ),
        (
            "a@implicit.example",
            "override+dns",
            "line 1 matched; $adddns adds implicit.example itself (implicit MX: it has no MX "
            "records)",
            [("implicit.example", 25, 0, "dns", None), ("relay.example", 25, 10, "override", 1)],
        ),
        (
            "a@broken.example",
            "defer",
            "the MX lookup for broken.example failed temporarily (SERVFAIL); try again later",
            [],
        ),
    ],
)
def test_adddns_edge_cases(
    recipient: str, status: str, reason: str, expected: list[tuple[Any, ...]]
) -> None:
    result = route("* relay.example $adddns\n", recipient)
    assert (result.status, result.reason, hops(result)) == (status, reason, expected)


def test_null_mx_with_a_plain_override_keeps_its_hops_without_lookup() -> None:
    resolver = world()
    result = route("nullmx.example relay.example\n", "a@nullmx.example", resolver=resolver)
    assert (result.status, hops(result)) == ("override", [("relay.example", 25, 10, "override", 1)])
    assert resolver.queries == []


def test_an_override_match_without_adddns_makes_no_lookup() -> None:
    resolver = world()
    route("* relay.example\n", "a@broken.example", resolver=resolver)
    assert resolver.queries == []


# ---------------------------------------------------------------- API details


def test_the_trace_reports_the_rules_own_line_numbers() -> None:
    rules = [parse_rule("other.example a.example", line=10), parse_rule("* b.example", line=20)]
    result = evaluate(rules, Message("x.org"), world())
    assert [step.line for step in result.trace] == [10, 20]
    assert hops(result) == [("b.example", 25, 10, "override", 20)]
    assert result.matched_lines == (20,)


def test_a_bare_domain_is_a_recipient() -> None:
    assert route("x.org a.example\n", "X.ORG.").domain == "x.org"
    assert route("x.org a.example\n", "a@b@x.org").domain == "x.org"


@pytest.mark.parametrize(
    ("recipient", "fields", "message"),
    [
        ("", {}, "the recipient is empty"),
        ("bob@", {}, '"bob@" has no domain'),
        ("bob@a..b", {}, 'invalid domain "a..b": empty label in domain'),
        ("bob@a b", {}, 'invalid domain "a b": invalid character " " in domain'),
        ("bob@*.example", {}, 'invalid domain "*.example": invalid character "*" in domain'),
        (
            "bob@[192.0.2.1]",
            {},
            'address literals such as "[192.0.2.1]" have no MX records to override',
        ),
        ("x.org", {"size": -1}, "size must be a whole number of 0 or more, not -1"),
        ("x.org", {"retries": 1.5}, "retries must be a whole number of 0 or more, not 1.5"),
    ],
)
def test_a_message_without_a_usable_domain_is_rejected(
    recipient: str, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError) as info:
        Message(recipient, **fields)
    assert str(info.value) == message


def test_a_compiled_table_is_reusable_and_equal_to_evaluating_rules() -> None:
    rules = parse_table(WORKED_TABLE)
    table = compile_table(rules)
    assert len(table) == 6
    for fields in ({"size": 2000}, {"size": 20_000_000}, {"retries": 5}):
        message = Message("bob@example.com", **fields)
        assert evaluate(table, message, world()) == evaluate(rules, message, world())


def test_as_dict_hides_the_password_unless_asked() -> None:
    result = route(WORKED_TABLE, "a@x.org", auth_sender="joe")
    data = result.as_dict()
    assert data == {
        "status": "override",
        "reason": "line 3 matched ($end)",
        "domain": "x.org",
        "hops": [
            {
                "host": "smtp.corp.example",
                "port": 25,
                "preference": 10,
                "source": "override",
                "line": 3,
                "username": "joe",
                "password_set": True,
            }
        ],
        "trace": [
            {
                "line": 1,
                "matched": False,
                "why": 'domain "x.org" does not match "example.com"',
                "end": False,
            },
            {"line": 2, "matched": False, "why": "$size>10000000 failed (size is 0)", "end": False},
            {
                "line": 3,
                "matched": True,
                "why": 'domain "x.org" matches "*"; $authsender=joe holds (auth sender is "joe"); '
                "$end: later lines are not checked",
                "end": True,
            },
        ],
    }
    assert result.as_dict(show_secrets=True)["hops"][0]["password"] == "let:me@in"


def test_a_recipient_with_eszett_is_looked_up_under_its_own_name_not_as_ss() -> None:
    resolver = StaticResolver(
        mx={"xn--zca.de": [(10, "mx.xn--zca.de")], "ss.de": [(10, "mx.ss.de")]}
    )
    result = route("other.example smtp.relay.example", "f@ß.de", resolver)
    assert resolver.queries == [("MX", "xn--zca.de")]
    assert [hop.host for hop in result.hops] == ["mx.xn--zca.de"]
