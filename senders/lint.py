"""Lint warnings for the web pages and commands (the checks live in senders.engine.lint).

For the table page:   context.update(lint_context(sender)), then above the table
    {% include "senders/_lint.html" %}
and beside each rule (after {% load lint_tags %})
    {% include "senders/_lint.html#rule" with warnings=lint_warnings|on_line:row.position %}
For the bulk editor:  lint_entries(form.entries, sender.local_domain_list) → warnings whose
    line numbers are the lines of the typed text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.cache import cache

from senders.engine import OverrideSyntaxError, parse_rule
from senders.engine.lint import LintWarning, lint_table
from senders.models import MailSender, Revision
from senders.tables import document_of
from senders.tabletext import Entry, parse_document

CACHE_SECONDS = 24 * 3600


def lint_sender(sender: MailSender) -> list[LintWarning]:
    """Warnings for the stored table; line numbers are rule positions.

    Linting a long table takes a while (parsing every rule), so the result is
    cached by the content of the latest revision and the sender's local domains.
    """
    document = (
        Revision.objects.filter(sender=sender)
        .order_by("-number")
        .values_list("document", flat=True)
        .first()
    )
    if document is None:
        document = document_of(sender)
    local_domains = sender.local_domain_list
    digest = hashlib.sha256("\0".join([document, *local_domains]).encode("utf-8", "replace"))
    key = f"senders:lint:{digest.hexdigest()}"
    warnings: list[LintWarning] | None = cache.get(key)
    if warnings is None:
        try:
            entries = parse_document(document)
        except OverrideSyntaxError:
            return []  # a table that no longer parses has bigger problems than lint
        rules = [
            parse_rule(entry.text, line=position)
            for position, entry in enumerate(entries, start=1)
            if entry.enabled
        ]
        warnings = lint_table(rules, local_domains)
        cache.set(key, warnings, CACHE_SECONDS)
    return warnings


def lint_entries(entries: Sequence[Entry], local_domains: Iterable[str] = ()) -> list[LintWarning]:
    """Warnings for a parsed document (bulk editor); line numbers are document lines."""
    rules = [parse_rule(entry.text, line=entry.line) for entry in entries if entry.enabled]
    return lint_table(rules, local_domains)


def lint_context(sender: MailSender) -> dict[str, Any]:
    """`lint_warnings` for a page showing the stored table (see `_lint.html`)."""
    return {"lint_warnings": lint_sender(sender)}
