"""The parser: every statement of the spec's syntax sections, with exact messages."""

# ruff: noqa: E501  (tables of exact messages read best one case a line)

from __future__ import annotations

import pytest

from senders.engine import (
    Condition,
    DnsMxCondition,
    OverrideSyntaxError,
    Rule,
    Server,
    parse_rule,
    parse_server,
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


def error_of(text: str) -> str:
    with pytest.raises(OverrideSyntaxError) as info:
        parse_rule(text)
    return str(info.value)


def test_it_parses_the_worked_example_table() -> None:
    rules = parse_table(WORKED_TABLE)
    assert rules == [
        Rule("example.com", Server("smtp.myisp.com")),
        Rule(
            "*",
            Server("relay.myisp.com", 587),
            (Condition("size", ">", "10000000"),),
            end=True,
        ),
        Rule(
            "*",
            Server("smtp.corp.example", 25, "joe", "let:me@in"),
            (Condition("authsender", "=", "joe"),),
            end=True,
        ),
        Rule(
            "*",
            Server("backup.example.net"),
            (Condition("retries", ">=", "3"),),
            adddns=True,
            priority=20,
        ),
        Rule("*.demon.co.uk", Server("smtp.demon.net")),
        Rule(
            "*",
            Server("smtp.myisp.com"),
            (DnsMxCondition("*.aspmx.l.google.com"),),
            end=True,
        ),
    ]
    assert [rule.line for rule in rules] == [1, 2, 3, 4, 5, 6]


def test_line_numbers_count_blank_and_comment_lines() -> None:
    rules = parse_table("# routes\n\nexample.com a.example\n   \n\t# x\nexample.org b.example\n")
    assert [rule.line for rule in rules] == [3, 6]


def test_parse_rule_keeps_the_callers_line_number() -> None:
    assert parse_rule("example.com a.example", line=42).line == 42
    with pytest.raises(OverrideSyntaxError) as info:
        parse_rule("x", line=7)
    assert str(info.value) == 'line 7, col 2: expected a server after "x"'


def test_line_number_takes_no_part_in_equality() -> None:
    assert parse_rule("a.example b.example", line=1) == parse_rule("a.example b.example", line=9)


@pytest.mark.parametrize(
    ("text", "domain"),
    [
        ("example.com", "example.com"),
        ("EXAMPLE.Com", "example.com"),
        ("example.com.", "example.com"),
        ("*", "*"),
        ("*.", "*"),
        ("*.demon.co.uk", "*.demon.co.uk"),
        ("mail?.example.org", "mail?.example.org"),
        ("_dmarc.example.org", "_dmarc.example.org"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.example", "xn--bcher-kva.example"),
        ("*.bücher.example", "*.xn--bcher-kva.example"),
        ("bücher。example", "xn--bcher-kva.example"),
        # IDNA2008 with UTS #46 non-transitional processing: ß stays ß.
        ("straße.example", "xn--strae-oqa.example"),
        ("STRASSE.example", "strasse.example"),
        ("ß.de", "xn--zca.de"),
    ],
)
def test_it_normalises_domain_patterns(text: str, domain: str) -> None:
    assert parse_rule(f"{text} smtp.example.net").domain == domain


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("exa$mple.com s", 'line 1, col 4: invalid character "$" in domain pattern'),
        ("a..b s", "line 1, col 3: empty label in domain pattern"),
        (".a s", 'line 1, col 1: domain pattern cannot start with "."'),
        ("bü*.x s", "line 1, col 1: Non-ASCII letters may not share a label with * or ?"),
        ("x.bü?r s", "line 1, col 3: Non-ASCII letters may not share a label with * or ?"),
        ("b€r.x s", 'line 1, col 2: invalid character "€" in domain pattern'),
        (f"{'a' * 64}.x s", f'line 1, col 1: label "{"a" * 64}" is longer than 63 characters'),
        ("$end s", 'line 1, col 1: expected a domain pattern before "$end"'),
        ("example.com", 'line 1, col 12: expected a server after "example.com"'),
        ("example.com   ", 'line 1, col 15: expected a server after "example.com"'),
    ],
)
def test_it_rejects_bad_domain_patterns(line: str, message: str) -> None:
    assert error_of(line) == message


@pytest.mark.parametrize(
    ("text", "server"),
    [
        ("smtp.myisp.com", Server("smtp.myisp.com", 25)),
        ("SMTP.MyISP.com.", Server("smtp.myisp.com", 25)),
        ("smtp.myisp.com:587", Server("smtp.myisp.com", 587)),
        ("smtp.myisp.com:0587", Server("smtp.myisp.com", 587)),
        ("192.0.2.25", Server("192.0.2.25")),
        ("192.0.2.25:2525", Server("192.0.2.25", 2525)),
        ("[2001:DB8:0::25]", Server("2001:db8::25")),
        ("[2001:db8::25]:587", Server("2001:db8::25", 587)),
        ("smtp.bücher.example", Server("smtp.xn--bcher-kva.example")),
        ("smtp.straße.example", Server("smtp.xn--strae-oqa.example")),
        ("smtp.xn--strae-oqa.example", Server("smtp.xn--strae-oqa.example")),
        ("a-b.c--d.example", Server("a-b.c--d.example")),
        (
            ".".join(["a" * 63] * 3) + "." + "b" * 61,
            Server(".".join(["a" * 63] * 3) + "." + "b" * 61),
        ),
        ("joe:letmein@smtp.myisp.com", Server("smtp.myisp.com", 25, "joe", "letmein")),
        # Split at the last @, the user ends at the first ":".
        ("joe:let:me@in@smtp.corp.example", Server("smtp.corp.example", 25, "joe", "let:me@in")),
        (
            "joe@corp.example:pw@smtp.corp.example:587",
            Server("smtp.corp.example", 587, "joe@corp.example", "pw"),
        ),
        ("Joe:PassWord@[2001:db8::1]:465", Server("2001:db8::1", 465, "Joe", "PassWord")),
        ("u:$end#x@h.example", Server("h.example", 25, "u", "$end#x")),
        ("h.example:65535", Server("h.example", 65535)),
        ("h.example:1", Server("h.example", 1)),
    ],
)
def test_it_parses_servers(text: str, server: Server) -> None:
    assert parse_rule(f"example.com {text}").server == server
    assert parse_server(text) == server


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ("s.example:0", "col 15: port 0 is out of range 1-65535"),
        ("s.example:65536", "col 15: port 65536 is out of range 1-65535"),
        ("s.example:", 'col 15: expected a port number after ":"'),
        ("s.example:smtp", 'col 15: port must be a number 1-65535, found "smtp"'),
        ("s.example:+25", 'col 15: port must be a number 1-65535, found "+25"'),
        ("2001:db8::25", "col 5: an IPv6 address must be in brackets, e.g. [2001:db8::25]"),
        ("[2001:db8::25", 'col 5: expected "]" after the IPv6 address'),
        ("[2001:db8::zz]", 'col 6: invalid IPv6 address "2001:db8::zz"'),
        ("[192.0.2.1]", 'col 6: invalid IPv6 address "192.0.2.1"'),
        ("[2001:db8::25]587", 'col 19: expected ":port" after "]", found "587"'),
        ("joe@s.example", 'col 5: expected "user:password@" before the host'),
        (":pw@s.example", 'col 5: expected a user name before ":"'),
        ("joe:@s.example", 'col 9: expected a password between ":" and "@"'),
        ("joe:pw@", 'col 12: expected a host after "@"'),
        ("joe:pw@:25", "col 12: expected a host before the port"),
        ("*.s.example", "col 5: the server host cannot hold wildcards"),
        ("mx?.example", "col 7: the server host cannot hold wildcards"),
        ("s_1.example", 'col 6: invalid character "_" in host'),
        ("999.0.2.1", 'col 5: invalid IPv4 address "999.0.2.1"'),
        ("$end", 'col 5: expected a server before "$end"'),
        # Host names are names a host can have (spec: Server).
        ("-relay.example", 'col 5: a host name label cannot start with "-" ("-relay")'),
        ("relay-.example", 'col 10: a host name label cannot end with "-" ("relay-")'),
        ("smtp.-x.example", 'col 10: a host name label cannot start with "-" ("-x")'),
        ("joe:pw@relay-.example:587", 'col 17: a host name label cannot end with "-" ("relay-")'),
        ("xn--.example", 'col 5: "xn--" is not a valid A-label (IDNA punycode)'),
        ("xn--zz.example", 'col 5: "xn--zz" is not a valid A-label (IDNA punycode)'),
        ("smtp.XN--ZZ.example", 'col 10: "XN--ZZ" is not a valid A-label (IDNA punycode)'),
        (f"{'a' * 64}.example", f'col 5: label "{"a" * 64}" is longer than 63 characters'),
        (".".join(["a" * 63] * 4), "col 5: host is longer than 253 characters"),
    ],
)
def test_it_rejects_bad_servers(server: str, message: str) -> None:
    assert error_of(f"a.b {server}") == f"line 1, {message}"


@pytest.mark.parametrize(
    ("text", "condition"),
    [
        ("$retries>=3", Condition("retries", ">=", "3")),
        ("$size>10000000", Condition("size", ">", "10000000")),
        ("$SIZE<007", Condition("size", "<", "7")),
        ("$size==0", Condition("size", "==", "0")),
        ("$size<>5", Condition("size", "<>", "5")),
        ("$size!=5", Condition("size", "!=", "5")),
        ("$size<=5", Condition("size", "<=", "5")),
        ("$size=5", Condition("size", "=", "5")),
        ("$authsender=Joe", Condition("authsender", "=", "Joe")),
        ("$From=", Condition("from", "=", "")),
        ("$from==", Condition("from", "==", "")),
        ("$from<>", Condition("from", "<>", "")),
        ("$from!=", Condition("from", "!=", "")),
        ("$from~=*@example.com", Condition("from", "~=", "*@example.com")),
        ("$from~!*@Example.com", Condition("from", "~!", "*@Example.com")),
        ("$from~=/@example\\.com/i", Condition("from", "~=", "/@example\\.com/i")),
        ("$from~=/a/b/", Condition("from", "~=", "/a/b/")),
        ("$from=/not-a-regex", Condition("from", "=", "/not-a-regex")),
        ("$from>=m", Condition("from", ">=", "m")),
        ("$from=a=b", Condition("from", "=", "a=b")),
        ("$authsender=josé", Condition("authsender", "=", "josé")),
        ("$dnsmx:*.aspmx.l.google.com", DnsMxCondition("*.aspmx.l.google.com")),
        ("$DNSMX:!*.Example.COM.", DnsMxCondition("*.example.com", negate=True)),
        ("$dnsmx:mx.bücher.example", DnsMxCondition("mx.xn--bcher-kva.example")),
    ],
)
def test_it_parses_conditions(text: str, condition: Condition | DnsMxCondition) -> None:
    assert parse_rule(f"a.example b.example {text}").conditions == (condition,)


def test_conditions_keep_written_order_and_may_repeat() -> None:
    rule = parse_rule("* s.example $size>1 $dnsmx:a* $end $size<9 $dnsmx:!b* $from=x")
    assert rule.conditions == (
        Condition("size", ">", "1"),
        DnsMxCondition("a*"),
        Condition("size", "<", "9"),
        DnsMxCondition("b*", negate=True),
        Condition("from", "=", "x"),
    )


@pytest.mark.parametrize(
    ("options", "end", "adddns", "priority", "order"),
    [
        ("", False, False, None, ()),
        ("$end", True, False, None, ("end",)),
        ("$END", True, False, None, ("end",)),
        ("$adddns $end", True, True, None, ("adddns", "end")),
        ("$end $AddDns $Priority:0", True, True, 0, ("end", "adddns", "priority")),
        ("$priority:65535", False, False, 65535, ("priority",)),
        ("$priority:020", False, False, 20, ("priority",)),
    ],
)
def test_it_parses_options(
    options: str, end: bool, adddns: bool, priority: int | None, order: tuple[str, ...]
) -> None:
    rule = parse_rule(f"a.example b.example {options}")
    assert (rule.end, rule.adddns, rule.priority, rule.options) == (end, adddns, priority, order)
    assert rule.preference == (10 if priority is None else priority)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("$sizee>5", 'col 9: unknown attribute "$sizee" (did you mean $size?)'),
        ("$Fromm=x", 'col 9: unknown attribute "$Fromm" (did you mean $from?)'),
        ("$ed", 'col 9: unknown option "$ed" (did you mean $end?)'),
        ("$adddn", 'col 9: unknown option "$adddn" (did you mean $adddns?)'),
        ("$prority:5", 'col 9: unknown option "$prority" (did you mean $priority?)'),
        ("$dnsxm:*", 'col 9: unknown option "$dnsxm" (did you mean $dnsmx?)'),
        (
            "$colour=red",
            'col 9: unknown attribute "$colour" (expected $retries, $size, $authsender or $from)',
        ),
        ("$zz", 'col 9: unknown option "$zz" (expected $end, $adddns, $priority or $dnsmx)'),
        ("$", 'col 9: expected a condition or option name after "$"'),
        ("$=5", 'col 9: expected a condition or option name after "$"'),
        ("end", 'col 9: unexpected "end" (did you mean $end?)'),
        ("size>5", 'col 9: unexpected "size>5" (did you mean $size?)'),
        (
            "smtp2.example",
            'col 9: unexpected "smtp2.example" (conditions and options start with $)',
        ),
        ("#", 'col 9: unexpected "#" (a comment must be on a line of its own)'),
        ("#comment", 'col 9: unexpected "#comment" (a comment must be on a line of its own)'),
        ("$size", "col 14: expected an operator after $size (=, ==, !=, <>, <, <=, > or >=)"),
        (
            "$size:5",
            'col 14: expected an operator after $size (=, ==, !=, <>, <, <=, > or >=), found ":5"',
        ),
        (
            "$from",
            "col 14: expected an operator after $from (=, ==, !=, <>, <, <=, >, >=, ~= or ~!)",
        ),
        ("$size~=5", "col 14: ~= works on text only: $size is a number"),
        ("$retries~!5", "col 17: ~! works on text only: $retries is a number"),
        ("$size>", 'col 15: expected a number after "$size>"'),
        ("$size>-1", 'col 15: expected digits after "$size>" (no sign or unit), found "-1"'),
        ("$size>10M", 'col 15: expected digits after "$size>" (no sign or unit), found "10M"'),
        ("$size>1.5", 'col 15: expected digits after "$size>" (no sign or unit), found "1.5"'),
        ("$size>٣", 'col 15: expected digits after "$size>" (no sign or unit), found "٣"'),
        ("$size=>5", 'col 15: expected digits after "$size=" (no sign or unit), found ">5"'),
        (
            "$from<",
            'col 15: expected a value after "$from<" (only =, ==, != and <> take an empty value)',
        ),
        (
            "$from~=",
            'col 16: expected a value after "$from~=" (only =, ==, != and <> take an empty value)',
        ),
        ("$from~=/abc", 'col 16: a regex must end with "/" (write /pattern/ or /pattern/i)'),
        ("$from~=/", 'col 16: a regex must end with "/" (write /pattern/ or /pattern/i)'),
        ("$from~=//", "col 16: empty regex (write /pattern/ or /pattern/i)"),
        ("$from~=//i", "col 16: empty regex (write /pattern/ or /pattern/i)"),
        ("$from~=/a/x", 'col 19: unknown regex flag "x" (the only flag is i)'),
        ("$from~=/a/I", 'col 19: unknown regex flag "I" (the only flag is i)'),
        (
            "$from~=/(a)\\1/",
            "col 17: back-references such as \\1 are not supported (regexes must run in linear time)",
        ),
        (
            "$from~=/(?=a)b/",
            "col 17: look-around such as (?= is not supported (regexes must run in linear time)",
        ),
        (
            "$from~!/(?<!a)b/",
            "col 17: look-around such as (?<! is not supported (regexes must run in linear time)",
        ),
        ("$from~=/[a/", "col 17: invalid regex: missing ]: [a"),
        ("$from~=/a{2,1001}/", "col 17: invalid regex: invalid repetition size: {2,1001}"),
        ("$dnsmx", 'col 15: expected ":" after $dnsmx (write $dnsmx:*.example.com)'),
        ("$dnsmx=x", 'col 15: expected ":" after $dnsmx (write $dnsmx:*.example.com)'),
        ("$dnsmx:", 'col 16: expected a wildcard after "$dnsmx:"'),
        ("$dnsmx:!", 'col 17: expected a wildcard after "$dnsmx:!"'),
        ("$dnsmx:a/b", 'col 17: invalid character "/" in $dnsmx pattern'),
        ("$end:1", "col 13: $end takes no value"),
        ("$adddns=1", "col 16: $adddns takes no value"),
        ("$priority", 'col 18: expected ":" after $priority (write $priority:20)'),
        ("$priority=5", 'col 18: expected ":" after $priority (write $priority:20)'),
        ("$priority:", 'col 19: expected a number 0-65535 after "$priority:"'),
        ("$priority:-1", 'col 19: priority must be a number 0-65535, found "-1"'),
        ("$priority:65536", "col 19: priority 65536 is out of range 0-65535"),
    ],
)
def test_it_rejects_bad_conditions_and_options(token: str, message: str) -> None:
    assert error_of(f"a.b c.d {token}") == f"line 1, {message}"


def test_regex_of_512_characters_is_allowed_but_not_513() -> None:
    parse_rule(f"a.b c.d $from~=/{'a' * 512}/")
    assert error_of(f"a.b c.d $from~=/{'a' * 513}/") == (
        "line 1, col 17: regex is longer than 512 characters"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("a.b c.d $end $end", "col 14: repeated option $end"),
        ("a.b c.d $adddns $ADDDNS", "col 17: repeated option $adddns"),
        ("a.b c.d $priority:1 $priority:1", "col 21: repeated option $priority"),
    ],
)
def test_it_rejects_repeated_options(line: str, message: str) -> None:
    assert error_of(line) == f"line 1, {message}"


def test_error_carries_line_column_token_and_message() -> None:
    with pytest.raises(OverrideSyntaxError) as info:
        parse_table("# header\n\n*                relay.example:587 $sizee>10000000 $end\n")
    error = info.value
    assert (error.line, error.column, error.token) == (3, 36, "$sizee>10000000")
    assert error.message == 'unknown attribute "$sizee" (did you mean $size?)'
    assert str(error) == 'line 3, col 36: unknown attribute "$sizee" (did you mean $size?)'
    assert error.errors == (error,)
    assert isinstance(error, ValueError)


def test_parse_table_collects_every_error() -> None:
    text = "a.b c.d $ed\nok.example s.example\nx y $size>z $from<\n\nbad$ s\n"
    with pytest.raises(OverrideSyntaxError) as info:
        parse_table(text)
    assert [str(error) for error in info.value.errors] == [
        'line 1, col 9: unknown option "$ed" (did you mean $end?)',
        'line 3, col 11: expected digits after "$size>" (no sign or unit), found "z"',
        'line 3, col 19: expected a value after "$from<" (only =, ==, != and <> take an empty value)',
        'line 5, col 4: invalid character "$" in domain pattern',
    ]
    assert info.value is info.value.errors[0]


def test_columns_count_code_points_and_tabs_as_one() -> None:
    assert error_of("bücher.example\tsmtp.example\t$ed") == (
        'line 1, col 29: unknown option "$ed" (did you mean $end?)'
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1, col 1: empty rule (expected a domain pattern and a server)"),
        ("   \t ", "line 1, col 1: empty rule (expected a domain pattern and a server)"),
        ("# a comment", "line 1, col 1: a rule cannot be a comment"),
        ("  # a comment", "line 1, col 3: a rule cannot be a comment"),
        ("a.b c.d\n", "line 1, col 8: line break inside a rule (a rule is one line)"),
        ("a.b\x00 c.d", "line 1, col 4: control character U+0000 is not allowed"),
        ("a.b c.d \x7f", "line 1, col 9: control character U+007F is not allowed"),
        ("a.b c.d $from=\x85", "line 1, col 15: control character U+0085 is not allowed"),
        ("a.b c.d $from=\ud800", "line 1, col 15: invalid character U+D800 (a lone surrogate)"),
        (
            "a.b\u00a0c.d",
            "line 1, col 4: whitespace character U+00A0 is not allowed (separate tokens with spaces or tabs)",
        ),
        ("a.b c.d $from=a\u200bb", "line 1, col 16: invisible character U+200B is not allowed"),
    ],
)
def test_it_rejects_empty_lines_and_bad_characters(text: str, message: str) -> None:
    assert error_of(text) == message


def test_one_trailing_cr_is_dropped() -> None:
    assert parse_rule("a.example b.example\r") == parse_rule("a.example b.example")
    assert error_of("a.example b.example\r\r") == (
        "line 1, col 20: control character U+000D is not allowed"
    )
    rules = parse_table("a.example b.example\r\n# c\r\nc.example d.example $end\r\n")
    assert [(rule.domain, rule.line) for rule in rules] == [("a.example", 1), ("c.example", 3)]


def test_a_leading_byte_order_mark_is_ignored_in_tables() -> None:
    assert parse_table("\ufeffa.example b.example\n")[0].domain == "a.example"


def test_tokens_may_be_separated_by_runs_of_spaces_and_tabs() -> None:
    assert parse_rule(" \t a.example \t\t b.example   $end\t") == Rule(
        "a.example", Server("b.example"), end=True
    )


def test_over_long_lines_are_an_error_not_a_hang() -> None:
    line = "a.example b.example $from=" + "x" * 5000
    assert error_of(line) == "line 1, col 4097: line is longer than 4096 characters (it has 5026)"
    parse_rule(("a.example b.example $from=" + "x" * 4096)[:4096])
    with pytest.raises(OverrideSyntaxError) as info:
        parse_table("ok.example s\n" + "y" * 1_000_000 + "\n")
    assert str(info.value) == (
        "line 2, col 4097: line is longer than 4096 characters (it has 1000000)"
    )


def test_the_length_limit_counts_characters_not_bytes() -> None:
    parse_rule(("a.example b.example $from=" + "é" * 4096)[:4096])


def test_a_table_of_100k_lines_parses() -> None:
    rules = parse_table("a.example b.example\n" * 100_000)
    assert len(rules) == 100_000 and rules[-1].line == 100_000


def test_parse_server_reports_columns_within_its_text() -> None:
    with pytest.raises(OverrideSyntaxError) as info:
        parse_server("  h.example:0")
    assert str(info.value) == "line 1, col 13: port 0 is out of range 1-65535"
    with pytest.raises(OverrideSyntaxError, match="col 1: expected a server"):
        parse_server("")
    with pytest.raises(OverrideSyntaxError, match="a server cannot contain spaces"):
        parse_server("a b")


def test_a_rule_knows_the_column_of_each_of_its_tokens() -> None:
    text = "example.com\t  smtp.myisp.com:587  $size>10 $END $from~=*@corp.example"
    rule = parse_rule(text, line=7)
    assert rule.line == 7
    assert rule.columns == (1, 15, 35, 44, 49)
    assert [text[c - 1 :].split()[0] for c in rule.columns] == [
        "example.com",
        "smtp.myisp.com:587",
        "$size>10",
        "$END",
        "$from~=*@corp.example",
    ]
