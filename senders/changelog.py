"""One-line summaries of table changes, for the history when no message was typed.

"rule 3: port 25 → 587", "moved rule 5 to 2", "imported 120 rules". Passwords are
never named: a changed password reads "password changed".
"""

from __future__ import annotations

from collections.abc import Sequence

from senders.engine import OverrideSyntaxError, Rule, format_rule, parse_rule
from senders.tabletext import Entry

MAX_SUMMARY = 500  # Revision.summary's length


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _masked(text: str) -> str:
    try:
        return format_rule(parse_rule(text), mask_password=True)
    except OverrideSyntaxError:
        return "a rule that no longer parses"


def _tail(rule: Rule) -> str:
    """Conditions and options as written: the canonical text after the server."""
    return " ".join(format_rule(rule, mask_password=True).split(" ")[2:])


def added(position: int, text: str) -> str:
    return _short(f"added rule {position}: {_masked(text)}")


def removed(position: int, text: str) -> str:
    return _short(f"removed rule {position}: {_masked(text)}")


def moved(start: int, to: int) -> str:
    return f"moved rule {start} to {to}" if start != to else f"rule {start} stays at {start}"


def changed(position: int, old: Entry, new: Entry) -> str:
    """What an edit changed in one rule: its parts, its state, its comment."""
    parts = _rule_changes(old.text, new.text) if old.text != new.text else []
    if old.enabled != new.enabled:
        parts.append("switched on" if new.enabled else "switched off")
    if old.comment != new.comment:
        parts.append("comment changed" if old.comment and new.comment else
                     "comment added" if new.comment else "comment removed")  # fmt: skip
    return _short(f"rule {position}: {'; '.join(parts) or 'saved unchanged'}", MAX_SUMMARY)


def _rule_changes(old_text: str, new_text: str) -> list[str]:
    try:
        a, b = parse_rule(old_text), parse_rule(new_text)
    except OverrideSyntaxError:
        return [f"now {_masked(new_text)}"]
    parts = []
    if a.domain != b.domain:
        parts.append(f"domain {a.domain} → {b.domain}")
    if a.server.host != b.server.host:
        parts.append(f"host {a.server.host} → {b.server.host}")
    if a.server.port != b.server.port:
        parts.append(f"port {a.server.port} → {b.server.port}")
    if a.server.username != b.server.username:
        parts.append(f"user {a.server.username or 'none'} → {b.server.username or 'none'}")
    elif a.server.password != b.server.password:
        parts.append("password changed")
    if _tail(a) != _tail(b):
        parts.append(
            f"{_short(_tail(a), 80) or 'no conditions'} → {_short(_tail(b), 80) or 'none'}"
        )
    return parts


def replaced(source: str, old: Sequence[Entry] | None, new: Sequence[Entry]) -> str:
    """A whole table written at once: an import, a bulk edit, the Django admin."""
    count = len(new)
    noun = "rule" if count == 1 else "rules"
    if source == "import" or old is None:
        return f"imported {count} {noun}"
    from senders.history import diff_entries  # history reads tables: import it late

    summary = diff_entries(old, new).summary
    return "no changes" if summary == "No changes." else summary.rstrip(".")
