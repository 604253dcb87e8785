"""`{{ lint_warnings|on_line:row.position }}`: the lint warnings about one rule."""

from __future__ import annotations

from collections.abc import Iterable

from django import template

from senders.engine.lint import LintWarning

register = template.Library()


@register.filter
def on_line(warnings: Iterable[LintWarning] | None, line: int) -> list[LintWarning]:
    return [warning for warning in warnings or () if warning.line == line]
