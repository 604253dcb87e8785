"""Lint: each warning with a case that fires and a close case that must stay silent."""

# ruff: noqa: E501  (exact messages read best one per line)

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from senders.engine import Rule, parse_table
from senders.engine.lint import (
    ADDDNS_END_CATCH_ALL,
    CONTRADICTION,
    DUPLICATE,
    MIXED_CREDENTIALS,
    RELAY_LOOP,
    SHADOWED,
    UNREACHABLE_RETRIES,
    USELESS_PRIORITY,
    LintWarning,
    lint_table,
    pattern_covers,
    patterns_overlap,
)
from senders.engine.match import compile_wildcard


def lint(text: str, local_domains: tuple[str, ...] = ()) -> list[str]:
    return [str(w) for w in lint_table(parse_table(text), local_domains)]


def codes(text: str, local_domains: tuple[str, ...] = ()) -> list[tuple[int, str]]:
    return [(w.line, w.code) for w in lint_table(parse_table(text), local_domains)]


# ---------------------------------------------------------------- wildcard algebra


@pytest.mark.parametrize(
    ("general", "specific"),
    [
        ("*", "example.com"),
        ("*", "*.example.com"),
        ("*.example.com", "mail.example.com"),
        ("*.example.com", "*.mail.example.com"),
        ("*.com", "mail?.example.com"),
        ("*?", "?*"),
        ("?*", "*?"),
        ("mail*", "mail?.example.org"),
        ("**.org", "*.org"),
    ],
)
def test_pattern_covers(general: str, specific: str) -> None:
    assert pattern_covers(general, specific)


@pytest.mark.parametrize(
    ("general", "specific"),
    [
        ("*.example.com", "example.com"),
        ("*.example.com", "*example.com"),
        ("*.*.example.com", "*.example.com"),
        ("mail?.example.org", "mail*.example.org"),
        ("example.com", "*.com"),
        ("?*", "*"),
    ],
)
def test_pattern_does_not_cover(general: str, specific: str) -> None:
    assert not pattern_covers(general, specific)


@pytest.mark.parametrize(
    ("first", "second", "overlap"),
    [
        ("a*", "*b", True),
        ("*.example.com", "mail.*", True),
        ("*.org", "*.com", False),
        ("a?", "?bc", False),
        ("example.com", "EXAMPLE.com".lower(), True),
        ("example.com", "example.org", False),
        ("*", "x.org", True),
    ],
)
def test_patterns_overlap(first: str, second: str, overlap: bool) -> None:
    assert patterns_overlap(first, second) is overlap
    assert patterns_overlap(second, first) is overlap


# ---------------------------------------------------------------- dead lines


def test_it_warns_about_a_line_an_earlier_unconditional_end_catch_all_hides() -> None:
    assert lint("* relay.example.net $end\nexample.com smtp.example.net\n") == [
        "line 2: can never match: line 1 (* with $end and no conditions) comes first and takes every domain — move line 2 above line 1, give line 1 a condition, or delete line 2"
    ]


def test_it_warns_about_wildcard_containment() -> None:
    warnings = lint_table(
        parse_table("*.example.com relay.example.net $end\n*.mail.example.com smtp.example.net\n")
    )
    assert warnings == [
        LintWarning(
            2,
            SHADOWED,
            "can never match: line 1 (*.example.com with $end and no conditions) comes first and takes every domain of *.mail.example.com",
            "move line 2 above line 1, give line 1 a condition, or delete line 2",
            (1,),
        )
    ]
    assert warnings[0].lines == (2, 1)


@pytest.mark.parametrize(
    "table",
    [
        "* relay.example.net $size>100 $end\nexample.com smtp.example.net\n",  # conditional
        "* relay.example.net\nexample.com smtp.example.net\n",  # no $end
        "*.example.com relay.example.net $end\nexample.com smtp.example.net\n",  # not the apex
        "example.com smtp.example.net\n* relay.example.net $end\n",  # specific line first
        "* relay.example.net $dnsmx:*.google.com $end\nexample.com smtp.example.net\n",
    ],
)
def test_it_does_not_call_a_reachable_line_shadowed(table: str) -> None:
    assert SHADOWED not in [code for _, code in codes(table)]


def test_it_warns_about_an_exact_duplicate() -> None:
    assert lint(
        "example.com smtp.example.net:587 $size>10\nexample.com smtp.example.net:587 $size>10\n"
    ) == ["line 2: duplicate of line 1: it does exactly the same — delete line 2"]


def test_a_duplicate_ignores_option_order_and_the_default_priority() -> None:
    table = "x.org a.net $end $adddns\nx.org a.net $adddns $end $priority:10\n"
    assert codes(table) == [(2, DUPLICATE)]


def test_lines_differing_in_one_condition_are_not_duplicates() -> None:
    assert codes("x.org a.net $size>10\nx.org a.net $size>11\n") == []


# ---------------------------------------------------------------- $priority


def test_it_warns_that_the_default_priority_changes_nothing() -> None:
    assert lint("x.org a.net $priority:10\n") == [
        "line 1: $priority:10 changes nothing: 10 is already the default — remove $priority:10 from line 1"
    ]


def test_it_warns_about_a_priority_on_a_line_that_never_shares_a_result() -> None:
    assert lint("x.org a.net $priority:5\ny.org b.net\n") == [
        "line 1: $priority:5 changes nothing: no other line can match together with line 1 and it has no $adddns, so its host is always the only one — remove $priority:5 from line 1"
    ]


def test_a_later_line_after_end_cannot_share_a_result() -> None:
    assert codes("x.org a.net $priority:5 $size>1 $end\n* b.net\n") == [(1, USELESS_PRIORITY)]


@pytest.mark.parametrize(
    "table",
    [
        "x.org a.net $priority:5\n* b.net\n",  # a later catch-all adds a second host
        "* b.net $size>1\nx.org a.net $priority:5 $end\n",  # an earlier line may match too
        "x.org a.net $priority:5 $adddns\n",  # ordered against the real MX hosts
    ],
)
def test_a_priority_that_orders_hosts_is_not_flagged(table: str) -> None:
    assert codes(table) == []


# ---------------------------------------------------------------- $adddns $end on *


def test_it_warns_about_adddns_and_end_on_an_unconditional_catch_all() -> None:
    assert lint("* relay.example.net $adddns $end\n") == [
        "line 1: $adddns with $end on a catch-all without conditions: every domain gets relay.example.net only as one more host beside its own MX hosts, and no later line is ever checked — drop $adddns to send all mail through the relay, or drop $end (or add a condition) so that the later lines still apply"
    ]


@pytest.mark.parametrize(
    "table",
    [
        "* relay.example.net $adddns $end $retries>=3\n",
        "* relay.example.net $adddns\n",
        "*.org relay.example.net $adddns $end\n",
    ],
)
def test_adddns_end_is_fine_with_a_condition_or_a_narrower_pattern(table: str) -> None:
    assert ADDDNS_END_CATCH_ALL not in [code for _, code in codes(table)]


# ---------------------------------------------------------------- contradictions


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            "x.org a.net $size>10 $size<5\n",
            "line 1: can never match: the conditions $size>10 $size<5 can never all hold — correct the conditions of line 1 or delete it",
        ),
        (
            "x.org a.net $size=5 $size=6\n",
            "line 1: can never match: the conditions $size=5 $size=6 can never all hold — correct the conditions of line 1 or delete it",
        ),
        (
            "x.org a.net $retries<0\n",
            "line 1: can never match: the conditions $retries<0 can never all hold — correct the conditions of line 1 or delete it",
        ),
        (
            "x.org a.net $size>=5 $size<=5 $size!=5\n",
            "line 1: can never match: the conditions $size>=5 $size<=5 $size!=5 can never all hold — correct the conditions of line 1 or delete it",
        ),
        (
            "x.org a.net $from=a@x.org $from=B@x.org\n",
            "line 1: can never match: the conditions $from=a@x.org $from=B@x.org can never all hold — correct the conditions of line 1 or delete it",
        ),
        (
            "x.org a.net $authsender=Joe $authsender<>joe\n",
            "line 1: can never match: the conditions $authsender=Joe $authsender<>joe can never all hold — correct the conditions of line 1 or delete it",
        ),
        (
            "x.org a.net $from=a@x.org $from~=*@y.org\n",
            "line 1: can never match: the conditions $from=a@x.org $from~=*@y.org can never all hold — correct the conditions of line 1 or delete it",
        ),
        (
            "x.org a.net $authsender>m $authsender<c\n",
            "line 1: can never match: the conditions $authsender>m $authsender<c can never all hold — correct the conditions of line 1 or delete it",
        ),
        (
            "x.org a.net $dnsmx:*.google.com $dnsmx:!*.google.com\n",
            "line 1: can never match: $dnsmx:*.google.com and $dnsmx:!*.google.com can never both hold — correct the conditions of line 1 or delete it",
        ),
    ],
)
def test_it_warns_about_contradictory_conditions(table: str, message: str) -> None:
    assert lint(table) == [message]


@pytest.mark.parametrize(
    "table",
    [
        "x.org a.net $size>5 $size<10\n",
        "x.org a.net $size>=5 $size<=5\n",
        "x.org a.net $size>=5 $size<=6 $size!=5\n",
        "x.org a.net $size>10 $retries<5\n",
        "x.org a.net $from=A@x.org $from==a@X.org\n",
        "x.org a.net $from=a@x.org $from~=*@x.org\n",
        "x.org a.net $authsender>a $authsender<b\n",
        "x.org a.net $from~=/a/ $from~!/a/\n",  # regexes are not second-guessed
        "x.org a.net $dnsmx:*.google.com $dnsmx:!*.outlook.com\n",
    ],
)
def test_conditions_that_can_hold_together_are_not_flagged(table: str) -> None:
    assert CONTRADICTION not in [code for _, code in codes(table)]


# ---------------------------------------------------------------- $retries


def test_it_warns_about_a_retries_value_that_is_never_reached() -> None:
    assert lint("* backup.example.net $retries>1000\n") == [
        "line 1: only applies after 1001 delivery attempts; mail is returned to its sender long before that (more than 100 attempts is never reached in practice) — use a smaller $retries value on line 1 (a few attempts, such as $retries>=3)"
    ]


@pytest.mark.parametrize(
    "table",
    [
        "* backup.example.net $retries>=100\n",
        "* backup.example.net $retries<1000\n",
        "* backup.example.net $retries!=500\n",
    ],
)
def test_reachable_retries_are_not_flagged(table: str) -> None:
    assert codes(table) == []


def test_the_retries_limit_can_be_changed() -> None:
    rules = parse_table("* backup.example.net $retries>=20\n")
    assert [w.code for w in lint_table(rules, max_retries=10)] == [UNREACHABLE_RETRIES]


# ---------------------------------------------------------------- credentials


@pytest.mark.parametrize("second", ["old-secret", "new-secret"])
def test_one_user_on_several_lines_is_flagged_whatever_the_passwords(second: str) -> None:
    # The same warning whether the passwords are equal or not: otherwise a guess typed
    # next to a stored password would be told whether it is right.
    warnings = lint_table(
        parse_table(
            "x.org joe:old-secret@relay.example.net\n"
            "y.org a.net\n"
            f"z.org joe:{second}@relay.example.net\n"
        )
    )
    assert [str(w) for w in warnings] == [
        "line 1: lines 1, 3 send to relay.example.net:25 as joe — a password change for joe must be made on each of these lines (the same relay and user appear on several lines)"
    ]
    assert warnings[0].lines == (1, 3)
    assert "secret" not in str(warnings)


def test_it_warns_about_different_logins_on_one_relay() -> None:
    assert lint("x.org joe:pw@relay.example.net:587\ny.org relay.example.net:587\n") == [
        "line 1: lines 1, 2 send to relay.example.net:587 with different credentials (joe, no login) — use the same login on every line, or ignore this if each line deliberately uses its own account"
    ]


@pytest.mark.parametrize(
    "table",
    [
        "x.org joe:pw@relay.example.net\ny.org joe:pw@other.example.net\n",
        "x.org joe:pw@relay.example.net:587\ny.org ann:pw2@relay.example.net:465\n",
        "x.org relay.example.net\ny.org relay.example.net\n",
    ],
)
def test_one_login_per_relay_is_not_flagged(table: str) -> None:
    assert MIXED_CREDENTIALS not in [code for _, code in codes(table)]


# ---------------------------------------------------------------- relay loop


def test_it_warns_about_a_catch_all_covering_a_local_domain() -> None:
    assert lint("* relay.myisp.com\n", ("example.com",)) == [
        "line 1: * also covers this sender's own domain example.com: mail to it goes to relay.myisp.com, which may send it straight back (a relay loop) — add a line for example.com with its own server and $end above line 1, or narrow the pattern"
    ]


def test_it_lists_every_local_domain_covered_and_normalises_them() -> None:
    assert codes("*.org relay.myisp.com\n", ("Example.ORG.", "other.com", "bücher.org")) == [
        (1, RELAY_LOOP)
    ]
    (warning,) = lint_table(parse_table("*.org relay.myisp.com\n"), ["Example.ORG.", "bücher.org"])
    assert "own domains example.org, xn--bcher-kva.org:" in warning.message


@pytest.mark.parametrize(
    ("table", "local"),
    [
        ("* relay.myisp.com\n", ()),
        ("*.org relay.myisp.com\n", ("example.com",)),
        ("example.com mailstore.example.com\n", ("example.com",)),  # a deliberate route
        ("example.com mailstore.example.com $end\n* relay.myisp.com\n", ("example.com",)),
        ("* relay.myisp.com\n", ("not a domain!",)),
    ],
)
def test_a_catch_all_not_reaching_a_local_domain_is_not_flagged(
    table: str, local: tuple[str, ...]
) -> None:
    assert RELAY_LOOP not in [code for _, code in codes(table, local)]


# ---------------------------------------------------------------- the whole table


def test_the_worked_example_is_clean_apart_from_its_relay_loop() -> None:
    table = (
        "example.com smtp.myisp.com\n"
        "* relay.myisp.com:587 $size>10000000 $end\n"
        "* joe:let:me@in@smtp.corp.example $authsender=joe $end\n"
        "* backup.example.net $retries>=3 $priority:20 $adddns\n"
        "*.demon.co.uk smtp.demon.net\n"
        "* smtp.myisp.com $dnsmx:*.aspmx.l.google.com $end\n"
    )
    assert codes(table) == []
    assert codes(table, ("mycompany.com",)) == [
        (2, RELAY_LOOP),
        (3, RELAY_LOOP),
        (4, RELAY_LOOP),
        (6, RELAY_LOOP),
    ]


def test_warnings_come_in_line_order_and_use_the_rules_line_numbers() -> None:
    rules = parse_table("\n# comment\nx.org a.net $size>9 $size<2\n* b.net $end\ny.org c.net\n")
    assert [(w.line, w.code) for w in lint_table(rules)] == [(3, CONTRADICTION), (5, SHADOWED)]


def test_a_long_table_lints_quickly() -> None:
    text = "".join(
        f"host{i}.example.com relay{i % 7}.example.net $priority:{i % 50}\n" for i in range(3000)
    )
    rules = parse_table(text + "* fallback.example.net\n")
    assert lint_table(rules, ["example.org"]) is not None


# ---------------------------------------------------------------- the index changes nothing

# Patterns that cover, overlap and miss each other in every way the index files them:
# exact names, suffix-filed wildcards (`*.b.example`, `m?.b.example`) and scanned ones.
PATTERNS = [
    "a.b.example",
    "m1.b.example",
    "b.example",
    "*.b.example",
    "*.example",
    "m?.b.example",
    "*b.example",
    "a.*",
    "m*",
    "*",
    "**",
    "?*",
]
LOCAL_DOMAINS = ["a.b.example", "m1.b.example", "b.example", "c.example", "a.org"]


def _naive(
    rules: list[Rule], local_domains: Sequence[str] = ()
) -> list[tuple[int, str, tuple[int, ...]]]:
    """Shadowed lines, useless priorities and relay loops by comparing every pair of
    lines (and every line with every own domain)."""
    found = []
    seen: set[tuple[object, ...]] = set()
    live: list[Rule] = []
    for index, rule in enumerate(rules):
        key = (rule.domain, rule.server, rule.conditions, rule.end, rule.adddns, rule.preference)
        duplicate, _ = key in seen, seen.add(key)
        if duplicate:
            continue
        cover = next(
            (
                other
                for other in rules[:index]
                if other.end and not other.conditions and pattern_covers(other.domain, rule.domain)
            ),
            None,
        )
        if cover is not None:
            found.append((rule.line, SHADOWED, (cover.line,)))
        else:
            live.append(rule)
    for index, rule in enumerate(live):
        if rule.priority in (None, 10) or rule.adddns:
            continue
        if not any(
            other != index and (other < index or not rule.end)
            and patterns_overlap(rule.domain, live[other].domain)
            for other in range(len(live))
        ):  # fmt: skip
            found.append((rule.line, USELESS_PRIORITY, ()))
    for index, rule in enumerate(live):
        if rule.is_wildcard and any(
            compile_wildcard(rule.domain)(domain)
            and not any(
                other.end and not other.conditions and compile_wildcard(other.domain)(domain)
                for other in live[:index]
            )
            for domain in local_domains
        ):
            found.append((rule.line, RELAY_LOOP, ()))
    return sorted(found)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(PATTERNS),
            st.sampled_from(["", " $end", " $size>5", " $size>5 $end"]),
            st.sampled_from(["", " $priority:20", " $priority:5"]),
            st.sampled_from(["r1.net", "r2.net"]),
        ),
        max_size=25,
    ),
    st.lists(st.sampled_from(LOCAL_DOMAINS), max_size=3, unique=True),
)
def test_the_indexed_checks_find_what_comparing_every_pair_finds(
    lines: list[tuple[str, str, str, str]], local_domains: list[str]
) -> None:
    text = "".join(f"{pattern} {host}{end}{priority}\n" for pattern, end, priority, host in lines)
    rules = parse_table(text)
    got = sorted(
        (w.line, w.code, w.related)
        for w in lint_table(rules, local_domains)
        if w.code in (SHADOWED, USELESS_PRIORITY, RELAY_LOOP)
    )
    assert got == _naive(rules, local_domains)
