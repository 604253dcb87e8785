"""Matching helpers: wildcards in linear time, the RE2 fast path and its fallback."""

from __future__ import annotations

import time
from typing import Any

import pytest

from senders.engine import Message, evaluate, parse_table
from senders.engine.match import (
    compile_regex,
    compile_wildcard,
    domain_suffixes,
    index_suffix,
    predicate,
)
from senders.engine.resolve import StaticResolver


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("abc", "abc", True),
        ("abc", "abcd", False),
        ("*", "", True),
        ("a*", "a", True),
        ("*c", "abc", True),
        ("a*c", "ac", True),
        ("a*c", "ab", False),
        ("a*b*c", "a.b.c", True),
        ("a*b*c", "acb", False),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("a?c", "aéc", True),  # ? is one character, not one byte
        ("*.x", "a.x", True),
        ("a.c", "abc", False),  # "." is literal
        ("(*)", "(a)", True),
        ("[a]", "a", False),
        ("a\\*", "a\\bc", True),
    ],
)
def test_wildcards(pattern: str, text: str, matches: bool) -> None:
    assert compile_wildcard(pattern)(text) is matches


def test_wildcards_run_in_linear_time() -> None:
    # A backtracking matcher takes exponential time on this; RE2 does not.
    pattern = "*a" * 30 + "*b"
    started = time.perf_counter()
    assert compile_wildcard(pattern)("a" * 4000) is False
    assert time.perf_counter() - started < 0.5


def test_regexes_run_in_linear_time() -> None:
    table = parse_table("* relay.example $from~=/(a+)+$/ $authsender~=/^(a|aa)+b/\n")
    started = time.perf_counter()
    message = Message("x.org", sender="a" * 4000 + "!", auth_sender="a" * 4000)
    assert evaluate(table, message, StaticResolver()).status == "undeliverable"
    assert time.perf_counter() - started < 0.5


class PublicOnly:
    """An RE2 program as the public API shows it, without the private fast path."""

    def __init__(self, program: Any) -> None:
        self.search, self.fullmatch = program.search, program.fullmatch


@pytest.mark.parametrize("wrap", [lambda p: p, PublicOnly])
def test_predicate_with_and_without_the_fast_path(wrap: Any) -> None:
    program = wrap(compile_regex("b+", ignore_case=False))
    assert predicate(program, anchored=False)("abbc") is True
    assert predicate(program, anchored=True)("abbc") is False
    assert predicate(program, anchored=True)("bb") is True
    assert predicate(program, anchored=False)("ac") is False
    assert predicate(wrap(compile_regex("É", ignore_case=True)), anchored=False)("xéx") is True


@pytest.mark.parametrize(
    ("pattern", "suffix"),
    [
        ("*.demon.co.uk", ".demon.co.uk"),
        ("mail?.example.org", ".example.org"),
        ("*x.example.org", ".example.org"),
        ("a*.b?.example", ".example"),
        ("*", None),
        ("mail*", None),
        ("*.co*", None),
        ("example.*", None),
    ],
)
def test_index_suffix(pattern: str, suffix: str | None) -> None:
    assert index_suffix(pattern) == suffix


def test_domain_suffixes() -> None:
    assert list(domain_suffixes("a.b.example")) == [".b.example", ".example"]
    assert list(domain_suffixes("localhost")) == []
