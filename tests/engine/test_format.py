"""Canonical text: single spaces, lower-case names, conditions then options as written."""

from __future__ import annotations

import pytest

from senders.engine import (
    PASSWORD_MASK,
    Condition,
    Rule,
    Server,
    format_rule,
    format_table,
    parse_rule,
    parse_table,
)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("example.com      smtp.myisp.com", "example.com smtp.myisp.com"),
        ("EXAMPLE.COM.\tSMTP.MyISP.com.:25", "example.com smtp.myisp.com"),
        ("*  relay.myisp.com:587 $SIZE>10000000 $END", "* relay.myisp.com:587 $size>10000000 $end"),
        (
            "* joe:let:me@in@smtp.corp.example $AuthSender=JOE $end",
            "* joe:let:me@in@smtp.corp.example $authsender=JOE $end",
        ),
        (
            "* backup.example.net $adddns $retries>=03 $priority:20",
            "* backup.example.net $retries>=3 $adddns $priority:20",
        ),
        ("* s.example $end $priority:5 $size==1", "* s.example $size==1 $end $priority:5"),
        ("* s.example $size<>1 $size!=2 $from=", "* s.example $size<>1 $size!=2 $from="),
        (
            "* s.example $DNSMX:!*.Example.COM $from~=/@Example\\.com/i",
            "* s.example $dnsmx:!*.example.com $from~=/@Example\\.com/i",
        ),
        ("bücher.example [2001:DB8::0:25]:587", "xn--bcher-kva.example [2001:db8::25]:587"),
        ("x.example 192.0.2.1:2525", "x.example 192.0.2.1:2525"),
        ("x.example [::1]", "x.example [::1]"),
    ],
)
def test_it_formats_canonical_text(text: str, canonical: str) -> None:
    rule = parse_rule(text)
    assert format_rule(rule) == canonical
    assert parse_rule(canonical) == rule
    assert format_rule(parse_rule(canonical)) == canonical


def test_it_masks_the_password_on_request() -> None:
    rule = parse_rule("* joe:let:me@in@smtp.corp.example:587")
    assert format_rule(rule, mask_password=True) == "* joe:********@smtp.corp.example:587"
    assert PASSWORD_MASK == "********"
    assert format_rule(parse_rule("* smtp.example"), mask_password=True) == "* smtp.example"


def test_options_given_by_hand_are_ordered_priority_adddns_end() -> None:
    rule = Rule("*", Server("s.example"), end=True, adddns=True, priority=5)
    assert rule.options == ("priority", "adddns", "end")
    assert format_rule(rule) == "* s.example $priority:5 $adddns $end"
    assert rule == parse_rule("* s.example $priority:5 $adddns $end")


def test_options_not_set_are_dropped_from_the_order() -> None:
    rule = Rule("*", Server("s.example"), end=True, options=("adddns", "end", "end"))
    assert rule.options == ("end",)


def test_format_table_ends_every_line_with_a_newline() -> None:
    assert format_table([]) == ""
    rules = parse_table("a.example  b.example\n\n# x\nc.example d.example:26 $end\n")
    assert format_table(rules) == "a.example b.example\nc.example d.example:26 $end\n"
    assert parse_table(format_table(rules)) == rules


def test_a_rule_built_by_hand_formats() -> None:
    rule = Rule(
        "*.example.org",
        Server("2001:db8::1", 465, "u", "p@ss"),
        (Condition("from", "~=", "*@example.org"),),
    )
    assert format_rule(rule) == "*.example.org u:p@ss@[2001:db8::1]:465 $from~=*@example.org"
