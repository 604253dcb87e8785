"""Django's side of the shared parser: engine errors become ValidationErrors."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError

from senders.engine import OverrideSyntaxError, RegexBudget, count_regexes, format_rule, parse_rule
from senders.tabletext import BIDI_CONTROLS, Entry, count_lines, parse_document, text_problem


def rule_error_message(error: OverrideSyntaxError) -> str:
    """One rule typed in a field: the column matters, the line does not."""
    return f"col {error.column}: {error.message}"


def clean_rule_text(value: str) -> str:
    """Validate one rule and return its canonical text."""
    try:
        return format_rule(parse_rule(value))
    except OverrideSyntaxError as exc:
        raise ValidationError(rule_error_message(exc), code="syntax") from exc


def validate_rule_text(value: str) -> None:
    clean_rule_text(value)


def clean_document(value: str) -> list[Entry]:
    """Validate a whole table document; every error is listed with its line."""
    limit = settings.MAX_TABLE_UPLOAD_BYTES
    if len(value) > limit:
        raise ValidationError(
            f"The table text is too long: {len(value)} characters, at most {limit}.",
            code="too_long",
        )
    # Counted before parsing: the work of checking a table grows with its lines.
    lines, rules = count_lines(value)
    if rules > settings.MAX_TABLE_RULES:
        raise ValidationError(
            f"The table has {rules} rules; at most {settings.MAX_TABLE_RULES} are supported. "
            "Split it between senders, or remove unused rules.",
            code="too_many_rules",
        )
    if lines > settings.MAX_TABLE_LINES:
        raise ValidationError(
            f"The table text has {lines} lines; at most {settings.MAX_TABLE_LINES} are "
            "accepted. Remove blank lines and long comments.",
            code="too_many_lines",
        )
    try:
        entries = parse_document(value)
    except OverrideSyntaxError as exc:
        raise ValidationError(
            [ValidationError(str(error), code="syntax") for error in exc.errors]
        ) from exc
    _check_regexes(value, entries)
    return entries


def _check_regexes(value: str, entries: list[Entry]) -> None:
    """At most MAX_REGEXES_PER_TABLE regexes in a table (disabled rules count: stored)."""
    budget = RegexBudget()
    errors = []
    for entry in entries:
        count = count_regexes(entry.text)
        error = budget.add(count, entry.line) if count else None
        if error is not None:
            line = value.split("\n", entry.line)[entry.line - 1]
            error = OverrideSyntaxError(error.message, line=entry.line, column=line.find("/") + 1)
            errors.append(ValidationError(str(error), code="regexes"))
            if len(errors) == 10:
                break
    if errors:
        raise ValidationError(errors)


def check_text(value: str, *, multiline: bool = False) -> str:
    """Refuse control characters, lone surrogates and bidi controls in stored text."""
    problem = text_problem(value, multiline=multiline)
    if problem:
        index, message = problem
        sentence = f"{message[:1].upper()}{message[1:]} (character {index + 1})."
        raise ValidationError(sentence, code="character")
    return value


def validate_line(value: str) -> None:
    check_text(value)


def validate_lines(value: str) -> None:
    check_text(value, multiline=True)


def plain_line(value: str) -> str:
    """Free text reduced to one plain line: control and bidi characters dropped."""
    return "".join(
        char
        for char in value.replace("\t", " ")
        if char not in BIDI_CONTROLS and text_problem(char) is None
    )
