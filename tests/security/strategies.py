"""Hostile input for the fuzz tests: rule-like text, the characters that break things,
and request bodies as a browser (or an attacker) sends them — invalid UTF-8 included."""

from __future__ import annotations

from urllib.parse import quote_from_bytes

from hypothesis import strategies as st

from senders.engine.rules import OPERATORS

# Pieces of the language, so that random lines often get past the first token.
FRAGMENTS = [
    "*",
    "?",
    ".",
    "example.com",
    "*.demon.co.uk",
    "bücher",
    "smtp.example",
    "joe:pw@",
    "u:********@",
    "@",
    ":",
    ":587",
    "[2001:db8::1]",
    "$",
    "$size",
    "$retries",
    "$from",
    "$authsender",
    "$dnsmx:",
    "$dnsmx:!",
    "$end",
    "$adddns",
    "$priority:",
    *OPERATORS,
    "/(a+)+$/",
    "/x/i",
    "(a)\\1",
    "10",
    "-1",
    "99999999999999999999",
    "#",
    "#disabled:",
    " ",
    "\t",
]
# Characters that have broken parsers, databases and pages elsewhere.
NASTY = [
    "\x00",
    "\x01",
    "\x1b",
    "\x7f",
    "\r",
    "\n",
    "\r\n",
    "\x85",
    "\u2028",
    "\u202e",  # RIGHT-TO-LEFT OVERRIDE
    "\u2066",  # LEFT-TO-RIGHT ISOLATE
    "\u200f",
    "\u200b",
    "\ufeff",
    "\u00a0",
    "\ufffd",
    "\U0001f600",
    "\U0010ffff",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ request }}",
    "{% debug %}",
    "'",
    '"',
    "&amp;",
    "%00",
    "../../etc/passwd",
    "²",  # a digit to str.isdigit(), not to int()
    "١٢",  # Arabic-Indic digits
    "9" * 30,
]

rule_like = st.lists(
    st.sampled_from(FRAGMENTS) | st.sampled_from(NASTY) | st.text(max_size=6), max_size=20
).map("".join)
# Any text a form field could receive once the body is decoded (no lone surrogates:
# a request body is bytes, and Django decodes bad bytes to U+FFFD).
field_text = st.one_of(
    rule_like,
    st.text(st.characters(exclude_categories=("Cs",)), max_size=200),
    st.sampled_from(NASTY),
)
# Anything a Python caller (a command, a test) might pass: lone surrogates too.
any_text = st.one_of(rule_like, st.text(max_size=300), st.sampled_from(NASTY))


def field_bytes() -> st.SearchStrategy[bytes]:
    """A field's raw bytes: valid UTF-8, lone surrogates encoded anyway, or junk bytes."""
    return st.one_of(
        field_text.map(lambda s: s.encode("utf-8")),
        any_text.map(lambda s: s.encode("utf-8", "surrogatepass")),
        st.binary(max_size=200),
    )


def form_body(fields: dict[str, bytes]) -> bytes:
    """An application/x-www-form-urlencoded body made of raw bytes."""
    return b"&".join(
        quote_from_bytes(name.encode()).encode() + b"=" + quote_from_bytes(value).encode()
        for name, value in fields.items()
    )
