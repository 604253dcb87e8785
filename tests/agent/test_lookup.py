"""The lookup core: what Postfix gets from the transport and sasl maps, per engine status."""

from __future__ import annotations

import json

import pytest

from senders.agent.export import read_export
from senders.agent.lookup import Table, lookup, route, route_without_dns
from senders.engine import StaticResolver, parse_table

TABLE = """\
example.com smtp.myisp.com
* relay.myisp.com:587 $size>10000000 $end
* joe:let:me@in@smtp.corp.example $authsender=joe $end
* backup.example.net $retries>=3 $priority:20 $adddns
*.demon.co.uk smtp.demon.net
pair.example a.relay.example:587 $priority:20
pair.example u:pw@b.relay.example:2525 $priority:5
both.test relay.example.net $adddns
gmail.test smtp.myisp.com $dnsmx:*.google.com $end
"""

MX = {
    "both.test": [(10, "mx1.both.test"), (20, "mx2.both.test")],
    "gmail.test": [(1, "aspmx.l.google.com")],
    "other.test": [(10, "mx.other.test")],
    "nullmx.test": [(0, ".")],
}


def answer(text: str, map_name: str, key: str, resolver: StaticResolver | None = None) -> str:
    table = Table(parse_table(text), revision=3)
    return str(lookup(table, map_name, key, resolver or StaticResolver(MX)))


def test_an_override_is_one_bracketed_hop_with_its_port() -> None:
    assert answer(TABLE, "transport", "bob@example.com") == "OK smtp:[smtp.myisp.com]:25"


def test_hops_come_in_preference_order_as_a_postfix_list() -> None:
    assert (
        answer(TABLE, "transport", "ann@pair.example")
        == "OK smtp:[b.relay.example]:2525, [a.relay.example]:587"
    )


def test_adddns_adds_the_mx_hosts_bracketed() -> None:
    assert (
        answer(TABLE, "transport", "x@both.test")
        == "OK smtp:[relay.example.net]:25, [mx1.both.test]:25, [mx2.both.test]:25"
    )


def test_no_override_is_notfound_without_a_dns_lookup() -> None:
    resolver = StaticResolver(MX)
    assert answer(TABLE, "transport", "a@other.test", resolver) == "NOTFOUND"
    assert answer(TABLE, "transport", "a@does-not-exist.test", resolver) == "NOTFOUND"
    assert resolver.queries == []


def test_the_catch_all_key_is_never_answered() -> None:
    assert answer("* relay.example.net\n", "transport", "*") == "NOTFOUND"


def test_a_sender_address_is_answered_like_a_recipient() -> None:
    # Postfix asks the transport map about envelope senders too, in the same form.
    assert answer(TABLE, "transport", "postmaster@example.com") == "OK smtp:[smtp.myisp.com]:25"


@pytest.mark.parametrize("key", ["", "postmaster", "bob@[192.0.2.1]", "a@-bad-.example"])
def test_keys_without_a_usable_domain_are_notfound(key: str) -> None:
    assert answer(TABLE, "transport", key) == "NOTFOUND"


def test_lines_with_message_conditions_are_left_out() -> None:
    # $size, $authsender, $retries, $from: a transport lookup carries none of them.
    table = Table(parse_table(TABLE))
    assert [rule.line for rule in table.unused] == [2, 3, 4]
    assert answer(TABLE, "transport", "a@x.demon.co.uk") == "OK smtp:[smtp.demon.net]:25"
    only_conditions = "* relay.example.net $from=boss@example.com $end\n"
    assert answer(only_conditions, "transport", "a@example.org") == "NOTFOUND"


def test_dnsmx_routes_by_the_real_mx() -> None:
    assert answer(TABLE, "transport", "a@gmail.test") == "OK smtp:[smtp.myisp.com]:25"


def test_dnsmx_that_does_not_hold_is_notfound() -> None:
    assert answer("* relay.example.net $dnsmx:*.google.com\n", "transport", "a@other.test") == (
        "NOTFOUND"
    )


def test_undeliverable_is_left_to_postfixs_own_routing() -> None:
    """No line matched: Postfix routes (and, sending direct, bounces) as without a table.

    The agent's DNS may not be Postfix's (split DNS): its NXDOMAIN must not bounce mail.
    """
    text = "* relay.example.net $dnsmx:*.google.com\n"
    assert answer(text, "transport", "a@nowhere.test") == "NOTFOUND"
    assert answer(text, "transport", "a@nullmx.test") == "NOTFOUND"


def test_a_dnsmx_temporary_failure_defers() -> None:
    resolver = StaticResolver(MX, failing=["broken.test"])
    assert answer(
        "* relay.example.net $dnsmx:*.google.com\n", "transport", "a@broken.test", resolver
    ) == (
        "OK retry:4.4.3 line 1 needs the MX records of broken.test ($dnsmx), but the lookup "
        "failed temporarily (SERVFAIL); try again later"
    )


def test_an_adddns_temporary_failure_defers() -> None:
    resolver = StaticResolver(MX, failing=["broken.test"])
    assert answer(
        "broken.test relay.example.net $adddns\n", "transport", "a@broken.test", resolver
    ) == (
        "OK retry:4.4.3 the MX lookup for broken.test failed temporarily (SERVFAIL); "
        "try again later"
    )


def test_answers_that_need_dns_are_left_to_the_slow_path() -> None:
    table = Table(parse_table(TABLE))
    assert route_without_dns(table, "x@both.test") is None
    assert route_without_dns(table, "x@gmail.test") is None
    fast = route_without_dns(table, "x@example.com")
    assert fast is not None and str(fast.reply) == "OK smtp:[smtp.myisp.com]:25"


def test_route_keeps_the_evaluation_behind_the_answer() -> None:
    result = route(Table(parse_table(TABLE)), "bob@example.com", StaticResolver()).result
    assert result is not None and result.status == "override" and result.matched_lines == (1,)


# ---------------------------------------------------------------- sasl


def test_sasl_answers_the_exact_bracketed_host_and_port() -> None:
    assert answer(TABLE, "sasl", "[b.relay.example]:2525") == "OK u:pw"
    assert answer(TABLE, "sasl", "[B.Relay.Example]:2525") == "OK u:pw"


def test_sasl_never_answers_the_bare_host_or_another_port() -> None:
    assert answer(TABLE, "sasl", "b.relay.example") == "NOTFOUND"
    assert answer(TABLE, "sasl", "[b.relay.example]:25") == "NOTFOUND"
    assert answer(TABLE, "sasl", "[a.relay.example]:587") == "NOTFOUND"


def test_sasl_bracketed_host_without_port_means_port_25() -> None:
    assert answer(TABLE, "sasl", "[smtp.corp.example]") == "OK joe:let:me@in"
    assert answer(TABLE, "sasl", "[smtp.corp.example]:25") == "OK joe:let:me@in"


def test_sasl_first_line_with_a_user_wins_and_the_conflict_is_reported() -> None:
    text = (
        "a.example smtp.x.com:587\n"
        "b.example ann:one@smtp.x.com:587\n"
        "c.example bob:two@smtp.x.com:587\n"
        "d.example ann:three@smtp.x.com:587\n"
    )
    assert answer(text, "sasl", "[smtp.x.com]:587") == "OK ann:one"
    (conflict,) = Table(parse_table(text)).sasl_conflicts
    assert str(conflict) == (
        "lines 1, 2, 3 and 4 use different users for smtp.x.com:587 (no login, ann, bob); "
        "Postfix can use only one: the agent gives it ann (line 2)"
    )


def test_a_conflict_in_a_json_export_names_rules_by_position() -> None:
    body = json.dumps(
        {
            "rules": [
                {"rule": 2, "line": 1, "text": "a.example ann:one@smtp.x.com:587"},
                {"rule": 5, "line": 2, "text": "b.example bob:two@smtp.x.com:587"},
            ]
        }
    ).encode()
    (conflict,) = Table(read_export(body, "json")).sasl_conflicts
    assert conflict.describe("rule") == (
        "rules 2 and 5 use different users for smtp.x.com:587 (ann, bob); "
        "Postfix can use only one: the agent gives it ann (rule 2)"
    )


def test_same_user_with_different_passwords_is_not_a_user_conflict() -> None:
    text = "a.example ann:one@smtp.x.com:587\nb.example ann:two@smtp.x.com:587\n"
    assert Table(parse_table(text)).sasl_conflicts == []
    assert answer(text, "sasl", "[smtp.x.com]:587") == "OK ann:one"


# ---------------------------------------------------------------- no table, bad requests


def test_without_a_table_lookups_fail_temporarily_but_the_catch_all_stays_notfound() -> None:
    reply = lookup(None, "transport", "bob@example.com", StaticResolver())
    assert str(reply) == "TEMP overrides-agent has no table yet (see overrides-agent check)"
    assert str(lookup(None, "sasl", "[a]:25", StaticResolver())).startswith("TEMP ")
    assert str(lookup(None, "transport", "*", StaticResolver())) == "NOTFOUND"


def test_an_unknown_map_is_a_permanent_error() -> None:
    assert answer(TABLE, "relocated", "bob@example.com") == (
        'PERM unknown map "relocated" (expected transport or sasl)'
    )


def test_notfound_goes_on_the_wire_with_its_space() -> None:
    reply = lookup(None, "transport", "*", StaticResolver())
    assert reply.wire() == b"NOTFOUND "


def test_answers_without_dns_are_remembered_per_domain_for_this_table_only() -> None:
    from senders.agent.lookup import lookup_without_dns

    table = Table(parse_table(TABLE))
    first = lookup_without_dns(table, "transport", "a@example.com")
    assert table.answers == {"example.com": first}
    assert lookup_without_dns(table, "transport", "b@example.com") is first
    assert lookup_without_dns(table, "transport", "x@both.test") is None  # needs DNS
    assert "both.test" not in table.answers
    newer = Table(parse_table("example.com relay.example.net\n"))
    assert str(lookup_without_dns(newer, "transport", "a@example.com")) == (
        "OK smtp:[relay.example.net]:25"
    )


def test_an_mta_that_passes_message_attributes_gets_those_lines_honoured() -> None:
    # The layer a second MTA (Exim's readsocket passes sender, size, auth user) builds on.
    table = Table(parse_table(TABLE), known=frozenset({"size", "authsender"}))
    assert [rule.line for rule in table.unused] == [4]  # $retries: still unknown
    big = route(table, "a@x.org", StaticResolver(), {"size": 20_000_000})
    assert str(big.reply) == "OK smtp:[relay.myisp.com]:587"
    joe = route(table, "a@x.org", StaticResolver(), {"authsender": "JOE"})
    assert str(joe.reply) == "OK smtp:[smtp.corp.example]:25"
    assert str(route(table, "a@x.org", StaticResolver(), {"size": 10}).reply) == "NOTFOUND"
