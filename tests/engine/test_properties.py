"""Hypothesis: the parser never raises anything but its own error; format round-trips;
the indexed evaluation equals a walk over every line."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from senders.engine import (
    Message,
    OverrideSyntaxError,
    StaticResolver,
    compile_table,
    evaluate,
    format_rule,
    format_table,
    parse_rule,
    parse_table,
)

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Pieces of the language, so that random lines often get past the first token.
FRAGMENTS = [
    "*",
    "?",
    ".",
    "example.com",
    "*.demon.co.uk",
    "bücher",
    "smtp.example",
    "u:p@",
    "@",
    ":",
    ":587",
    "[",
    "]",
    "[2001:db8::1]",
    "$",
    "$size",
    "$SIZE",
    "$retries",
    "$from",
    "$authsender",
    "$dnsmx",
    "$dnsmx:",
    "!",
    "$end",
    "$adddns",
    "$priority",
    "$priority:",
    "=",
    "==",
    "<>",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "~=",
    "~!",
    "/",
    "/i",
    "(a)\\1",
    "(?=x)",
    "10",
    "-1",
    "99999999999",
    "#",
    " ",
    "\t",
    "\r",
    "\n",
    "\x00",
    "\ud800",
    "\u00a0",
    "\u200b",
    "é",
    "\U0001d518",  # a letter outside the BMP
]

line_text = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=8), max_size=25).map("".join)


@FAST
@given(st.text(max_size=400) | line_text)
def test_parse_rule_raises_only_override_syntax_error(text: str) -> None:
    try:
        rule = parse_rule(text)
    except OverrideSyntaxError as error:
        assert error.line == 1 and error.column >= 1 and error.message
        assert str(error) == f"line 1, col {error.column}: {error.message}"
        assert all(isinstance(each, OverrideSyntaxError) for each in error.errors)
    else:
        assert parse_rule(format_rule(rule)) == rule


@FAST
@given(st.lists(st.text(max_size=60) | line_text, max_size=12).map("\n".join))
def test_parse_table_raises_only_override_syntax_error(text: str) -> None:
    try:
        rules = parse_table(text)
    except OverrideSyntaxError as error:
        lines = [e.line for e in error.errors]
        assert lines == sorted(lines) and error is error.errors[0]
    else:
        assert parse_table(format_table(rules)) == rules


@settings(max_examples=20, deadline=None)
@given(st.binary(max_size=2000))
def test_binary_junk_decoded_any_way_raises_only_override_syntax_error(data: bytes) -> None:
    for text in (data.decode("latin-1"), data.decode("utf-8", "surrogateescape")):
        with contextlib.suppress(OverrideSyntaxError):
            parse_table(text)


# ---------------------------------------------------------------- valid rules

ascii_label = st.from_regex(r"[a-zA-Z0-9_][a-zA-Z0-9_-]{0,10}", fullmatch=True)
wild_label = st.from_regex(r"[a-z0-9*?][a-z0-9*?-]{0,6}", fullmatch=True)
idn_label = st.sampled_from(["bücher", "München", "παράδειγμα", "例え"])
domain_pattern = st.one_of(
    st.just("*"),
    st.lists(st.one_of(ascii_label, wild_label, idn_label), min_size=1, max_size=4).map(".".join),
).map(lambda d: d + "." if len(d) % 5 == 0 else d)
host_name = (
    st.lists(
        # A host name label neither starts nor ends with "-" and is no made-up A-label.
        st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,7}[a-zA-Z0-9])?", fullmatch=True).filter(
            lambda label: not label.lower().startswith("xn--")
        )
        | idn_label,
        min_size=1,
        max_size=4,
    )
    .map(".".join)
    .filter(lambda h: not h.replace(".", "").isdigit())
)
host = st.one_of(
    host_name,
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
)
secret = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Cf", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=12,
)
server = st.builds(
    lambda creds, host, port: f"{creds}{host}{port}",
    st.one_of(
        st.just(""),
        st.builds(lambda u, p: f"{u}:{p}@", secret.filter(lambda u: ":" not in u), secret),
    ),
    host,
    st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}")),
)
text_value = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Cf", "Zs", "Zl", "Zp")), max_size=10
)
condition = st.one_of(
    st.builds(
        lambda a, o, v: f"${a}{o}{v}",
        st.sampled_from(["size", "SIZE", "retries", "Retries"]),
        st.sampled_from(["==", "=", "<>", "!=", "<=", "<", ">=", ">"]),
        st.integers(0, 10**12).map(str),
    ),
    st.builds(
        lambda a, o, v: f"${a}{o}{v}",
        st.sampled_from(["from", "From", "authsender"]),
        st.sampled_from(["==", "=", "<>", "!="]),
        text_value,
    ),
    st.builds(
        lambda a, o, v: f"${a}{o}{v}",
        st.sampled_from(["from", "authsender"]),
        st.sampled_from(["<=", "<", ">=", ">", "~=", "~!"]),
        text_value.filter(lambda v: v and not v.startswith("/")),
    ),
    st.builds(
        lambda a, o, v, f: f"${a}{o}/{v}/{f}",
        st.sampled_from(["from", "authsender"]),
        st.sampled_from(["~=", "~!"]),
        st.sampled_from(["@example\\.com$", "^joe", "a|b", "[0-9]+", "x/y", "é+"]),
        st.sampled_from(["", "i"]),
    ),
    st.builds(lambda n, p: f"$dnsmx:{n}{p}", st.sampled_from(["", "!"]), domain_pattern),
)
options = st.permutations(["$end", "$adddns", "$priority:{}"]).flatmap(
    lambda order: st.tuples(st.integers(0, 3), st.integers(0, 65535)).map(
        lambda t: [o.format(t[1]) for o in order[: t[0]]]
    )
)
rule_text = st.builds(
    lambda d, s, cs, os, sep: sep.join([d, s, *cs, *os]),
    domain_pattern,
    server,
    st.lists(condition, max_size=4),
    options,
    st.sampled_from([" ", "  ", "\t", " \t "]),
)


@FAST
@given(rule_text)
def test_format_round_trips_and_is_idempotent(text: str) -> None:
    rule = parse_rule(text)
    canonical = format_rule(rule)
    assert parse_rule(canonical) == rule
    assert format_rule(parse_rule(canonical)) == canonical
    assert "  " not in canonical and "\t" not in canonical
    masked = format_rule(rule, mask_password=True)
    assert rule.server.password is None or "********@" in masked


# ---------------------------------------------------------------- index = full walk

table_line = st.builds(
    lambda d, h, c, o: " ".join([d, h, *c, *o]),
    st.sampled_from(
        ["*", "x.org", "a.x.org", "*.x.org", "*x.org", "?.x.org", "a.*", "*.org", "b*", "*.y.net"]
    ),
    st.sampled_from(["h1.example", "h2.example", "mx1.x.org", "h1.example:26"]),
    st.lists(
        st.sampled_from(["$size>5", "$retries<1", "$from~=*@x.org", "$dnsmx:mx1*"]), max_size=2
    ),
    st.lists(st.sampled_from(["$end", "$adddns", "$priority:5"]), max_size=3, unique=True),
)
RESOLVER = StaticResolver({"x.org": [(10, "mx1.x.org")], "a.x.org": [], "y.net": [(0, ".")]})


@FAST
@given(
    st.lists(table_line, max_size=12),
    st.sampled_from(["x.org", "a.x.org", "b.x.org", "bx.org", "y.net", "a.y.net", "a.org", "b"]),
    st.integers(0, 10),
    st.integers(0, 2),
    st.sampled_from(["", "joe@x.org"]),
)
def test_the_index_finds_what_a_walk_over_every_line_finds(
    lines: list[str], domain: str, size: int, retries: int, sender: str
) -> None:
    table = compile_table(parse_table("\n".join(lines)))
    walk = compile_table(table.rules)
    walk.candidates = lambda domain: range(len(walk))  # type: ignore[method-assign]
    message = Message(domain, sender=sender, size=size, retries=retries)
    indexed, walked = evaluate(table, message, RESOLVER), evaluate(walk, message, RESOLVER)
    assert indexed == walked
    assert indexed.trace == walked.trace
