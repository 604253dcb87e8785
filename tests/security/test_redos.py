"""Regex denial of service: RE2 runs in time linear in the input, and limits bound the rest.

Linear by construction (RE2 has no backtracking); shown here with timings for n and
10n characters that cannot flake (best of 3, a bound of 60x plus 0.5 s for 10x the
input, where a backtracking engine would take forever). What RE2 does not bound — the size of
each program and how many there are — is bounded by our limits: 512 characters and
1 MiB per regex, 8 regexes per rule, 100 per table.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from senders.engine import (
    MAX_REGEXES_PER_RULE,
    MAX_REGEXES_PER_TABLE,
    Message,
    OverrideSyntaxError,
    StaticResolver,
    compile_table,
    evaluate,
    parse_rule,
    parse_table,
)
from senders.models import MailSender
from tests.security.conftest import client_as

EVIL_PATTERNS = [
    "(a+)+$",
    "(a|aa)+$",
    "(a*)*b",
    "(x+x+)+y",
    "(.*a){20}",
    "^(([a-z])+.)+[A-Z]([a-z])+$",
]


def best_of_3(run: Callable[[], object]) -> float:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


@pytest.mark.parametrize("pattern", EVIL_PATTERNS)
def test_catastrophic_patterns_run_in_linear_time(pattern: str) -> None:
    table = compile_table([parse_rule(f"* relay.example $from~=/{pattern}/ $end")])
    resolver = StaticResolver({"example.com": [(10, "mx.example.com")]})

    def route(n: int) -> Callable[[], object]:
        # The classic killer input: many a's and then a character that makes it fail.
        message = Message("bob@example.com", sender="a" * n + "!")
        return lambda: [evaluate(table, message, resolver) for _ in range(20)]

    small, large = best_of_3(route(10_000)), best_of_3(route(100_000))
    # Backtracking would take longer than the universe for 100,000 a's; RE2 is linear:
    # about 10x the time for 10x the input. The bounds leave room for a machine busy
    # with other work (a 4 ms slice lost to another process is noise, not a trend):
    # 60x plus half a second, and 5 s in all, where backtracking never ends.
    assert large <= 60 * small + 0.5, (pattern, small, large)
    assert large < 5


def test_regex_length_is_limited_to_512() -> None:
    parse_rule(f"* relay.example $from~=/{'a' * 512}/")
    with pytest.raises(OverrideSyntaxError, match=r"col 25: regex is longer than 512 characters"):
        parse_rule(f"* relay.example $from~=/{'a' * 513}/")


def test_a_regex_that_needs_too_much_memory_is_refused_in_words() -> None:
    with pytest.raises(OverrideSyntaxError) as error:
        parse_rule("* relay.example $from~=/\\pL{1000}/")
    assert error.value.message == (
        "regex is too complex: it needs more than 1 MiB to run (use fewer or smaller repetitions)"
    )


def test_a_rule_holds_at_most_8_regexes() -> None:
    conditions = " ".join(f"$from~=/a{n}/" for n in range(MAX_REGEXES_PER_RULE))
    assert len(parse_rule(f"* relay.example {conditions}").conditions) == 8
    text = f"* relay.example {conditions} $authsender~!/x/i $from~=*"
    with pytest.raises(OverrideSyntaxError) as error:
        parse_rule(text)
    column = text.index("$authsender") + 1
    assert str(error.value) == f"line 1, col {column}: too many regexes on one line (at most 8)"
    # Wildcards are cheap and not counted.
    parse_rule(f"* relay.example {conditions} $from~=*a* $from~!b?")


def test_a_table_holds_at_most_100_regexes() -> None:
    lines = [f"* relay.example $from~=/a{n}/" for n in range(MAX_REGEXES_PER_TABLE)]
    assert len(parse_table("\n".join(lines))) == 100
    with pytest.raises(OverrideSyntaxError) as error:
        parse_table("\n".join([*lines, "* relay.example $authsender~=/x/"]))
    assert str(error.value) == (
        "line 101, col 30: too many regexes: a table may hold at most 100 "
        "(use wildcards, or one regex with alternatives)"
    )


@pytest.mark.django_db
def test_the_web_forms_keep_the_table_limit(table: MailSender, django_user_model: Any) -> None:
    editor: Client = client_as(django_user_model, "editor")
    document = "".join(f"* relay.example $from~=/a{n}/\n" for n in range(100))
    bulk = reverse("senders:bulk", args=[table.slug])
    response = editor.post(bulk, {"text": document, "action": "save", "revision": 2})
    assert response.status_code == 302
    assert table.rules.count() == 100
    response = editor.post(bulk, {"text": document + "# x\n* r.example $from~=/b/\n"})
    assert list(response.context["form"].errors["text"]) == [
        "line 102, col 20: too many regexes: a table may hold at most 100 "
        "(use wildcards, or one regex with alternatives)"
    ]
    # One rule at a time: the same limit.
    table.refresh_from_db()
    add = reverse("senders:rule_add", args=[table.slug])
    data = {"text": "* r.example $from~=/b/", "enabled": "on", "revision": table.revision}
    response = editor.post(add, data)
    assert response.status_code == 400
    assert "col 20: too many regexes: a table may hold at most 100" in response.content.decode()
    assert table.rules.count() == 100
    response = editor.post(add, data | {"text": "* r.example $from~=b*"})
    assert response.status_code == 302
    # Editing a rule's regex in place is not adding one.
    rule = table.rules.get(position=1)
    table.refresh_from_db()
    edit = reverse("senders:rule_edit", args=[table.slug, rule.pk])
    data = {"text": "* relay.example $from~=/z/", "enabled": "on", "revision": table.revision}
    assert editor.post(edit, data).status_code == 302
