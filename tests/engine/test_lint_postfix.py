"""Lint: what the Postfix agent cannot honour exactly (lint_table(..., postfix=True))."""

from __future__ import annotations

from senders.engine import lint_table, parse_table
from senders.engine.lint import POSTFIX_CONDITION, POSTFIX_LOGIN


def postfix(text: str) -> list[str]:
    return [
        str(w)
        for w in lint_table(parse_table(text), postfix=True)
        if w.code in (POSTFIX_CONDITION, POSTFIX_LOGIN)
    ]


def test_it_names_conditions_postfix_cannot_check_and_what_postfix_does() -> None:
    text = (
        "example.com smtp.myisp.com\n"
        "* relay.myisp.com:587 $size>10000000 $authsender=joe $end\n"
        "*.org relay.example.net $dnsmx:*.google.com\n"
    )
    assert postfix(text) == [
        "line 2: Postfix cannot check $size>10000000 and $authsender=joe (its transport lookup "
        "gives only the recipient): the Postfix agent routes as if line 2 were not in the table "
        "(by the later lines, or by MX) — if Postfix delivers this mail, route by domain only "
        "on line 2 or accept that Postfix ignores it"
    ]


def test_it_is_off_unless_asked() -> None:
    rules = parse_table("* relay.myisp.com $from=a@b.example\n")
    assert lint_table(rules) == []
    assert [w.code for w in lint_table(rules, postfix=True)] == [POSTFIX_CONDITION]


def test_it_warns_about_different_users_for_one_host_and_port() -> None:
    text = (
        "a.example smtp.x.com:587\n"
        "b.example ann:one@smtp.x.com:587\n"
        "c.example bob:two@smtp.x.com:587\n"
        "d.example bob:two@smtp.x.com:25\n"
    )
    (warning,) = [w for w in lint_table(parse_table(text), postfix=True) if w.code == POSTFIX_LOGIN]
    assert (warning.line, warning.related) == (1, (2, 3))
    assert str(warning) == (
        "line 1: lines 1, 2 and 3 use different users for smtp.x.com:587 (no login, ann, bob); "
        "Postfix can use only one: the agent gives it the one of line 2 (ann) — use one login "
        "for smtp.x.com:587 on every line, or a different host name or port per login"
    )


def test_different_passwords_of_one_user_are_not_this_warning() -> None:
    # Users are compared, never passwords (equal or not, they stay out of messages).
    text = "a.example ann:pw-alpha@smtp.x.com:587\nb.example ann:pw-beta@smtp.x.com:587\n"
    assert postfix(text) == []
    warnings = lint_table(parse_table(text), postfix=True)
    assert all("pw-" not in str(w) for w in warnings)


def test_lines_without_any_login_are_fine() -> None:
    assert postfix("a.example smtp.x.com:587\nb.example smtp.x.com:587 $priority:5\n") == []
