"""`{{ error|error_link }}`: "line 6, col 30: …" with its place as a link into the text."""

from __future__ import annotations

import re

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

_PLACE = re.compile(r"line (\d{1,9}), col (\d{1,9}): ")


@register.filter
def error_link(error: str, field_id: str = "id_text") -> str | SafeString:
    """A link that puts the cursor there (app.js); without JS it scrolls to the text."""
    place = _PLACE.match(error)
    if place is None:
        return error
    line, column = place.groups()
    return format_html(
        '<a href="#{}" class="error-link" data-line="{}" data-column="{}">line {}, col {}</a>: {}',
        field_id,
        line,
        column,
        line,
        column,
        error[place.end() :],
    )
