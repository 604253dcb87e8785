"""Django's side of the shared parser: engine errors become ValidationErrors."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError

from senders.engine import OverrideSyntaxError, format_rule, parse_rule
from senders.tabletext import BIDI_CONTROLS, Entry, parse_document, text_problem


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
    try:
        return parse_document(value)
    except OverrideSyntaxError as exc:
        raise ValidationError(
            [ValidationError(str(error), code="syntax") for error in exc.errors]
        ) from exc


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
