"""Lint warnings for the web pages and commands (the checks live in senders.engine.lint).

For the table page:   context.update(lint_context(sender)), then above the table
    {% include "senders/_lint.html" %}
and beside each rule (the table view gives each row its own: `Row.warnings`; elsewhere
`{% load lint_tags %}` and `lint_warnings|on_line:position`)
    {% include "senders/_lint.html#rule" with warnings=row.warnings %}
For the bulk editor:  lint_entries(form.entries, sender.local_domain_list) → warnings whose
    line numbers are the lines of the typed text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core.cache import cache

from senders.engine import OverrideSyntaxError
from senders.engine.lint import LintWarning, lint_table
from senders.models import MailSender, WarningAcknowledgement
from senders.tabletext import Entry, rule_at

CACHE_SECONDS = 24 * 3600


def lint_sender(sender: MailSender, table: Sequence[Entry] | None = None) -> list[LintWarning]:
    """Warnings for the stored table; line numbers are rule positions.

    Linting a long table takes a while (parsing every rule), so the result is cached
    per table revision (every change bumps it) and local domains. On a miss the rules
    are read with their sender's revision in one statement, so what is cached under a
    revision is that revision's table even while someone saves. A change that has just
    read the whole table for its revision (senders.tables.Change.table, entries numbered
    by position) passes it as `table`, with the sender at that revision: the rules are
    not read again.
    """
    local_domains = sender.local_domain_list
    key = _lint_key(sender, sender.revision, local_domains)
    warnings: list[LintWarning] | None = cache.get(key)
    if warnings is not None:
        return warnings
    if table is not None:
        rows = [(entry.text, entry.line) for entry in table if entry.enabled]
    else:
        enabled = sender.rules.filter(enabled=True).order_by("position")
        read = list(enabled.values_list("text", "position", "sender__revision"))
        if not read:
            return []  # nothing to cache, and an emptied table has no revision to read here
        if read[0][2] != sender.revision:  # saved meanwhile: these are the newer revision's
            key = _lint_key(sender, read[0][2], local_domains)
        rows = [(text, position) for text, position, _ in read]
    try:
        rules = [rule_at(text, position) for text, position in rows]
    except OverrideSyntaxError:
        warnings = []  # a table that no longer parses has bigger problems than lint
    else:
        warnings = lint_table(
            rules, local_domains, postfix=sender.follows_postfix_agent, word="rule"
        )
    cache.set(key, warnings, CACHE_SECONDS)
    return warnings


def _lint_key(sender: MailSender, revision: int, local_domains: Sequence[str]) -> str:
    # created_at tells apart a sender deleted and created again under the same id.
    digest = hashlib.sha256("\0".join(local_domains).encode("utf-8", "replace")).hexdigest()
    postfix = "postfix" if sender.follows_postfix_agent else "any"
    # lint2: the warnings say "rule N" (the first version said "line N").
    created = sender.created_at.timestamp()
    return f"senders:lint2:{sender.pk}:{created}:{revision}:{digest}:{postfix}"


def lint_entries(
    entries: Sequence[Entry], local_domains: Iterable[str] = (), *, postfix: bool | None = None
) -> list[LintWarning]:
    """Warnings for a parsed document (bulk editor); line numbers are document lines.

    `postfix`: also what the Postfix agent cannot do (default: POSTFIX_AGENT).
    """
    rules = [rule_at(entry.text, entry.line) for entry in entries if entry.enabled]
    postfix = settings.POSTFIX_AGENT if postfix is None else postfix
    return lint_table(rules, local_domains, postfix=postfix)


def acknowledgements(sender: MailSender) -> dict[tuple[int, str], WarningAcknowledgement]:
    """The warnings marked as intended, by (rule position, warning code).

    An acknowledgement holds for the rule text it was given for: edit the rule and
    its warnings count again.
    """
    acks = WarningAcknowledgement.objects.filter(rule__sender=sender).select_related("rule", "user")
    return {(ack.rule.position, ack.code): ack for ack in acks if ack.text == ack.rule.text}


def lint_context(sender: MailSender) -> dict[str, Any]:
    """`lint_warnings` for a page showing the stored table (see `_lint.html`), and
    `lint_acknowledged`: those marked as intended, by (position, code)."""
    warnings = lint_sender(sender)
    acknowledged = acknowledgements(sender) if warnings else {}
    return {"lint_warnings": warnings, "lint_acknowledged": acknowledged}
