"""Fuzz the parser: parse_rule, parse_table and the table document (parse_document).

Any text — control characters, lone surrogates, bidi overrides, very long lines, every
operator at every position — gives a Rule or an OverrideSyntaxError pointing inside
the text, never another exception, and a parsed result formats and parses back to
itself. 100,000 lines parse in bounded time.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from senders.engine import (
    OverrideSyntaxError,
    format_rule,
    format_table,
    parse_rule,
    parse_table,
)
from senders.engine.rules import OPERATORS
from senders.tabletext import format_document, parse_document
from tests.security.conftest import ENGINE
from tests.security.strategies import NASTY, any_text, rule_like

lines = st.lists(any_text | rule_like, max_size=15).map("\n".join)


def check_error(error: OverrideSyntaxError, text: str) -> None:
    assert error.message and error.line >= 1
    longest = max((len(line) for line in text.split("\n")), default=0)
    assert 1 <= error.column <= longest + 1 or "longer than" in error.message


@ENGINE
@given(any_text | rule_like)
def test_parse_rule_answers_a_rule_or_its_error(text: str) -> None:
    try:
        rule = parse_rule(text)
    except OverrideSyntaxError as error:
        check_error(error, text)
    else:
        assert parse_rule(format_rule(rule)) == rule


@ENGINE
@given(lines)
def test_parse_table_answers_rules_or_errors(text: str) -> None:
    try:
        rules = parse_table(text)
    except OverrideSyntaxError as error:
        for each in error.errors:
            check_error(each, text)
    else:
        assert parse_table(format_table(rules)) == rules


@ENGINE
@given(lines)
def test_parse_document_answers_entries_or_errors(text: str) -> None:
    try:
        entries = parse_document(text)
    except OverrideSyntaxError as error:
        assert error.errors and all(e.message for e in error.errors)
    else:
        again = parse_document(format_document(entries))
        assert [(e.text, e.enabled, e.comment) for e in again] == [
            (e.text, e.enabled, e.comment) for e in entries
        ]


BASE = ["example.com", "joe:pw@smtp.example.net:587", "$size>10", "$from~=/x/i", "$end"]


@pytest.mark.parametrize("operator", OPERATORS)
def test_every_operator_at_every_position(operator: str) -> None:
    """Inserted before, inside and after each token: a clear error or a rule."""
    text = " ".join(BASE)
    for position in range(len(text) + 1):
        for glue in ("", " "):
            candidate = text[:position] + glue + operator + glue + text[position:]
            try:
                parse_rule(candidate)
            except OverrideSyntaxError as error:
                check_error(error, candidate)


@pytest.mark.parametrize("char", NASTY)
def test_every_nasty_character_at_every_token(char: str) -> None:
    for index in range(len(BASE)):
        for where in ("start", "end"):
            tokens = list(BASE)
            tokens[index] = char + tokens[index] if where == "start" else tokens[index] + char
            text = " ".join(tokens)
            try:
                parse_rule(text)
            except OverrideSyntaxError as error:
                check_error(error, text)


def test_bidi_overrides_are_refused_by_name() -> None:
    with pytest.raises(OverrideSyntaxError, match=r"col 9: invisible character U\+202E"):
        parse_rule("* relay.\u202eexample")
    with pytest.raises(OverrideSyntaxError, match=r"col 13: invisible character U\+2066"):
        parse_rule("* r.example \u2066$end")


def test_100000_lines_parse_in_bounded_time() -> None:
    text = "".join(f"d{n}.example relay{n % 7}.example:587 $size>{n}\n" for n in range(100_000))
    start = time.perf_counter()
    assert len(parse_table(text)) == 100_000
    junk = "x\n" * 100_000
    with pytest.raises(OverrideSyntaxError) as error:
        parse_document(junk)
    assert len(error.value.errors) == 101  # stops after 100
    assert time.perf_counter() - start < 60  # ~3 s here; a hang would not end
