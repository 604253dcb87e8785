"""A table as a text document: comments, disabled rules, every error with its line."""

from __future__ import annotations

import pytest

from senders.engine import OverrideSyntaxError, parse_rule
from senders.tabletext import (
    Entry,
    forget_parsed,
    format_document,
    has_credentials,
    parse_document,
    rule_at,
)


def test_comments_attach_to_the_rule_below_and_disabled_rules_survive() -> None:
    entries = parse_document(
        "# first\r\n#  second line \r\n\r\nA.example  relay.example.net\r\n"
        "#DISABLED:   b.example relay.example.net $end\r\n"
    )
    assert entries == [
        Entry("a.example relay.example.net", True, "first second line", 4),
        Entry("b.example relay.example.net $end", False, "", 5),
    ]
    assert format_document(entries) == (
        "# first second line\na.example relay.example.net\n"
        "#disabled: b.example relay.example.net $end\n"
    )


def test_every_error_is_reported_with_its_line_and_column() -> None:
    with pytest.raises(OverrideSyntaxError) as error:
        parse_document(
            "ok.example relay.example.net\n"
            "bad.example relay.example.net $sizee>1\n"
            "#disabled: x.example relay.example.net $nope\n"
            "# dangling comment\n"
        )
    assert [str(e) for e in error.value.errors] == [
        'line 2, col 31: unknown attribute "$sizee" (did you mean $size?)',
        'line 3, col 40: unknown option "$nope" (expected $end, $adddns, $priority or $dnsmx)',
        "line 4, col 1: comment is not followed by a rule (comments belong to the rule below them)",
    ]


def test_masked_output_hides_passwords() -> None:
    entries = [Entry("* joe:pa:ss@word@smtp.example.com", True, "", 1)]
    assert format_document(entries, mask_passwords=True) == "* joe:********@smtp.example.com\n"


def test_a_line_seen_before_gives_the_same_entry_and_a_bad_one_the_same_error() -> None:
    text = "Example.COM  relay.example.net:25\nbad.example relay.example.net $sizee>1\n"
    for _ in range(2):  # the second time the good line's canonical text is remembered
        with pytest.raises(OverrideSyntaxError) as error:
            parse_document("# c\n" + text)
        assert [str(e) for e in error.value.errors] == [
            'line 3, col 31: unknown attribute "$sizee" (did you mean $size?)'
        ]
    assert parse_document("\n\n" + text.split("\n")[0]) == [
        Entry("example.com relay.example.net", True, "", 3)
    ]


@pytest.mark.parametrize(
    ("text", "credentials"),
    [
        ("example.com relay.example.net $from~=*@x.example", False),
        ("example.com joe@relay.example.net", True),
        ("example.com joe:s@cr@t@relay.example.net $end", True),
        ("example.com", True),  # not a rule: parse it to know
    ],
)
def test_has_credentials_is_false_only_when_certain(text: str, credentials: bool) -> None:
    assert has_credentials(text) is credentials


def test_rule_at_is_parse_rule_with_the_callers_line_remembered_or_not() -> None:
    text = "example.com u:pw@smtp.example.net:587 $size>10 $priority:5 $end"
    forget_parsed()
    for line in (3, 7, 3):  # parsed once, then remembered
        rule = rule_at(text, line)
        assert rule == parse_rule(text, line=line)
        assert (rule.line, rule.columns) == (line, parse_rule(text, line=line).columns)
    for line in (4, 9):  # a line that does not parse is parsed again: its error has its line
        with pytest.raises(OverrideSyntaxError) as error:
            rule_at("bad.example relay.example.net $sizee>1", line)
        assert error.value.line == line
