"""Django's side of the shared parser: engine errors become ValidationErrors."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError

from senders.engine import OverrideSyntaxError, format_rule, parse_rule
from senders.tabletext import Entry, parse_document


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
