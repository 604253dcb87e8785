"""Change history: readable diffs between table revisions, rollback, stale-edit conflicts.

A diff compares two tables rule by rule (a rule is its text, on/off state and
comment) and says what a person wants to know: which rules were added, removed,
moved, switched on or off, re-commented, or got a new password. Rule text is
always shown with passwords masked; a changed password is reported as such,
never shown.

For the editors (bulk editor, rule editor): when a save raises `StaleTable`,

    conflict = conflict_diff(stale, user_document=typed_text_or_None)

gives `conflict.message` (why the save was refused), `conflict.theirs` (the diff
from the revision the user saw to the table as it is now: what the other person
changed) and, for a whole-table text, `conflict.yours` (from the table as it is
now to the user's text: what saving it would do). Render them with
`{% include "senders/diff.html#diff-table" with diff=conflict.theirs %}`.
"""

from __future__ import annotations

import contextlib
import difflib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from django.db import transaction

from senders.engine import PASSWORD_MASK, OverrideSyntaxError, format_rule, parse_rule
from senders.models import MailSender, Revision
from senders.tables import Actor, Change, StaleTable, document_of, replace_table
from senders.tabletext import (
    DISABLED_PREFIX,
    Entry,
    has_credentials,
    known_passwords,
    parse_document,
)
from senders.tabletext import restore_passwords as _restore

SAME, ADD, DEL, MOVE, CHANGE, GAP = "same", "add", "del", "move", "change", "gap"

# Stands for a password typed in clear in a diff against stored rules; the parser
# refuses control characters, so no stored password can equal it.
ENTERED = "\x00entered\x00"

# ("old", i) → (kind, j) and ("new", j) → (kind, i): a removed and an added rule
# that are really one rule moved (MOVE) or changed in place (CHANGE).
_Pairs = dict[tuple[str, int], tuple[str, int]]


@dataclass(frozen=True)
class DiffLine:
    """One rule in a diff. `old`/`new` are its positions (1-based) in the two tables.

    `text` is safe to show (password masked, `#disabled:` prefix for a disabled
    rule); `note` explains a move or a change. A GAP line stands for `hidden`
    unchanged rules left out around the changes.
    """

    kind: str
    old: int | None
    new: int | None
    text: str = ""
    comment: str = ""
    note: str = ""
    hidden: int = 0

    @property
    def label(self) -> str:
        return {ADD: "added", DEL: "removed", MOVE: "moved", CHANGE: "changed"}.get(self.kind, "")

    @property
    def sign(self) -> str:
        return {ADD: "+", DEL: "-", MOVE: "~", CHANGE: "~", SAME: " "}.get(self.kind, "…")


@dataclass
class TableDiff:
    lines: list[DiffLine] = field(default_factory=list)
    added: int = 0
    removed: int = 0
    moved: int = 0
    changed: int = 0

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.removed or self.moved or self.changed)

    @property
    def summary(self) -> str:
        """`2 rules added, 1 removed.`, `1 rule moved.` or `No changes.`"""
        counts = [
            (count, word)
            for count, word in (
                (self.added, "added"),
                (self.removed, "removed"),
                (self.moved, "moved"),
                (self.changed, "changed"),
            )
            if count
        ]
        if not counts:
            return "No changes."
        (first, word), *rest = counts
        parts = [f"{first} rule{'s' if first != 1 else ''} {word}"]
        parts += [f"{count} {word}" for count, word in rest]
        return ", ".join(parts) + "."

    def as_text(self) -> str:
        """The diff as plain text lines (`+`, `-`, `~`), passwords masked."""
        out: list[str] = []
        for line in self.lines:
            if line.kind == GAP:
                out.append(f"  … {line.hidden} unchanged")
                continue
            if line.comment:
                out.append(f"{line.sign} # {line.comment}")
            note = f"    ({line.note})" if line.note else ""
            out.append(f"{line.sign} {line.text}{note}")
        return "".join(f"{line}\n" for line in out)


# ---------------------------------------------------------------- diffing


def masked(text: str) -> str:
    """A rule's text safe to show: the password replaced by the mask."""
    if not has_credentials(text):
        return text  # nothing to mask, no need to parse
    try:
        return format_rule(parse_rule(text), mask_password=True)
    except OverrideSyntaxError:
        # Stored text that no longer parses: mask the credentials by hand.
        domain, _, rest = text.partition(" ")
        server, _, tail = rest.partition(" ")
        if "@" in server:
            user = server.partition(":")[0]
            server = f"{user}:********@{server.rpartition('@')[2]}"
        return " ".join(part for part in (domain, server, tail) if part)


def _shown(entry: Entry) -> str:
    text = masked(entry.text)
    return text if entry.enabled else f"{DISABLED_PREFIX} {text}"


def _key(entry: Entry) -> tuple[str, bool, str]:
    return (entry.text, entry.enabled, entry.comment)


def _change_note(old: Entry, new: Entry) -> str:
    notes = []
    if old.enabled != new.enabled:
        notes.append("switched on" if new.enabled else "switched off")
    if old.comment != new.comment:
        if old.comment and new.comment:
            notes.append("comment changed")
        else:
            notes.append("comment added" if new.comment else "comment removed")
    if ENTERED in new.text:
        notes.append("password entered")
    elif old.text != new.text:
        notes.append("password changed")
    return ", ".join(notes)


def diff_entries(
    old: Sequence[Entry], new: Sequence[Entry], *, context: int | None = None
) -> TableDiff:
    """Rule-by-rule diff of two tables; `context` unchanged rules are kept around changes."""
    matcher = difflib.SequenceMatcher(None, [_key(e) for e in old], [_key(e) for e in new], False)
    opcodes = matcher.get_opcodes()
    deleted = [i for tag, i1, i2, _, _ in opcodes if tag != "equal" for i in range(i1, i2)]
    inserted = [j for tag, _, _, j1, j2 in opcodes if tag != "equal" for j in range(j1, j2)]
    pairs = _pair(old, new, deleted, inserted)
    diff = TableDiff()
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            # Text comes later, for the unchanged lines that stay (see below).
            diff.lines.extend(
                DiffLine(SAME, i + 1, j + 1, comment=new[j].comment)
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            )
            continue
        for i in range(i1, i2):
            diff.lines.extend(_deleted_line(old, new, i, pairs, diff))
        for j in range(j1, j2):
            diff.lines.extend(_inserted_line(old, new, j, pairs, diff))
    if context is not None:
        diff.lines = _trim(diff.lines, context)
    # Masking means parsing: only for the unchanged lines shown, not the whole table.
    diff.lines = [
        replace(line, text=_shown(new[line.new - 1])) if line.kind == SAME and line.new else line
        for line in diff.lines
    ]
    return diff


def _pair(
    old: Sequence[Entry], new: Sequence[Entry], deleted: list[int], inserted: list[int]
) -> _Pairs:
    """Match removed and added rules: identical (moved), then same text (switched on or
    off, re-commented), then same text but for the password."""
    pairs: _Pairs = {}
    for kind, key in (
        (MOVE, _key),
        (CHANGE, lambda e: e.text),
        (CHANGE, lambda e: (masked(e.text), e.enabled, e.comment)),
    ):
        waiting: dict[object, list[int]] = defaultdict(list)
        for j in inserted:
            if ("new", j) not in pairs:
                waiting[key(new[j])].append(j)
        for i in deleted:
            if ("old", i) in pairs or not waiting.get(key(old[i])):
                continue
            j = waiting[key(old[i])].pop(0)
            pairs[("old", i)] = (kind, j)
            pairs[("new", j)] = (kind, i)
    return pairs


def _deleted_line(
    old: Sequence[Entry], new: Sequence[Entry], i: int, pairs: _Pairs, diff: TableDiff
) -> list[DiffLine]:
    entry = old[i]
    if ("old", i) not in pairs:
        diff.removed += 1
        return [DiffLine(DEL, i + 1, None, _shown(entry), entry.comment)]
    return []  # a moved or changed rule is shown once, where it is now


def _inserted_line(
    old: Sequence[Entry], new: Sequence[Entry], j: int, pairs: _Pairs, diff: TableDiff
) -> list[DiffLine]:
    entry = new[j]
    if ("new", j) not in pairs:
        diff.added += 1
        return [DiffLine(ADD, None, j + 1, _shown(entry), entry.comment)]
    kind, i = pairs[("new", j)]
    if kind == MOVE:
        diff.moved += 1
        return [DiffLine(MOVE, i + 1, j + 1, _shown(entry), entry.comment, f"moved from {i + 1}")]
    diff.changed += 1
    note = _change_note(old[i], entry)
    if i != j:
        note += f", was {i + 1}"
    return [DiffLine(CHANGE, i + 1, j + 1, _shown(entry), entry.comment, note)]


def _trim(lines: list[DiffLine], context: int) -> list[DiffLine]:
    near = [False] * len(lines)
    for index, line in enumerate(lines):
        if line.kind != SAME:
            for k in range(max(0, index - context), min(len(lines), index + context + 1)):
                near[k] = True
    out: list[DiffLine] = []
    hidden = 0
    for index, line in enumerate(lines):
        if near[index] or line.kind != SAME:
            if hidden:
                out.append(DiffLine(GAP, None, None, hidden=hidden))
                hidden = 0
            out.append(line)
        else:
            hidden += 1
    if hidden:
        out.append(DiffLine(GAP, None, None, hidden=hidden))
    return out


def diff_documents(old: str, new: str, *, context: int | None = None) -> TableDiff:
    """Diff of two table documents (see senders.tabletext); raises OverrideSyntaxError."""
    return diff_entries(parse_document(old), parse_document(new), context=context)


# ---------------------------------------------------------------- revisions


def document_at(sender: MailSender, number: int) -> str:
    """The table document of revision `number`; 0 is the empty table before the first.

    Raises Revision.DoesNotExist for a number the sender does not have.
    """
    if number == 0 and not Revision.objects.filter(sender=sender, number=0).exists():
        return ""
    return Revision.objects.values_list("document", flat=True).get(sender=sender, number=number)


def diff_revisions(sender: MailSender, a: int, b: int, *, context: int | None = 3) -> TableDiff:
    return diff_documents(document_at(sender, a), document_at(sender, b), context=context)


def changes_of(sender: MailSender, number: int, entries: Sequence[Entry]) -> TableDiff:
    """What revision `number`, already parsed into `entries`, changed from the one before."""
    return diff_entries(parse_document(document_at(sender, number - 1)), entries, context=3)


class NothingToRollBack(Exception):
    """The table already is what the revision holds."""


def rollback(
    sender: MailSender, number: int, *, actor: Actor, expected_revision: int | None
) -> Change:
    """Make the table what it was at revision `number`, as a new revision.

    History is never rewritten: the rollback is one more revision (source
    ROLLBACK). Raises Revision.DoesNotExist, StaleTable (someone saved since the
    user looked), NothingToRollBack, or OverrideSyntaxError (the old snapshot no
    longer parses).
    """
    document = Revision.objects.values_list("document", flat=True).get(sender=sender, number=number)
    entries = parse_document(document)
    with transaction.atomic():
        locked = MailSender.objects.select_for_update().get(pk=sender.pk)
        if expected_revision is not None and locked.revision != expected_revision:
            raise StaleTable(locked, expected_revision)
        if document_of(locked) == document:
            raise NothingToRollBack(f"The table already is as it was at revision {number}.")
        return replace_table(locked, entries, actor=actor, expected_revision=expected_revision)


# ---------------------------------------------------------------- stale edits


@dataclass
class Conflict:
    """What to show when a save is refused because someone else saved first."""

    message: str
    seen: int
    current: int
    theirs: TableDiff | None  # seen → current; None if the page did not say what it showed
    yours: TableDiff | None  # current → the user's text; None for a single rule or bad text


def conflict_diff(stale: StaleTable, user_document: str | None = None) -> Conflict:
    """Explain a StaleTable: what the other person changed, and what saving would do.

    `user_document` is the bulk editor's text (passwords may be masked); leave it
    out for a single-rule edit. Nothing here raises for bad user text.
    """
    sender = stale.sender
    now = _document_or_current(sender, stale.current)
    theirs = None
    if stale.expected >= 0:
        try:
            theirs = diff_documents(document_at(sender, stale.expected), now, context=3)
        except (Revision.DoesNotExist, OverrideSyntaxError):
            theirs = None
    yours = None
    if user_document is not None:
        try:
            current = parse_document(now)
            typed = parse_document(user_document)
            entered = [_typed_password(entry) for entry in typed]
            # An unknown mask stays a mask: it is shown masked either way.
            with contextlib.suppress(OverrideSyntaxError):
                typed = _restore(typed, known_passwords(e.text for e in current))
            typed = [_entered(e) if was else e for e, was in zip(typed, entered, strict=True)]
            yours = diff_entries(current, typed, context=3)
        except OverrideSyntaxError:
            yours = None
    return Conflict(str(stale), stale.expected, stale.current, theirs, yours)


def _typed_password(entry: Entry) -> bool:
    """Does the rule carry a password typed in clear (not the mask)?"""
    if not has_credentials(entry.text):
        return False
    password = parse_rule(entry.text).server.password
    return password is not None and password != PASSWORD_MASK


def _entered(entry: Entry) -> Entry:
    """The rule with its typed password replaced by ENTERED, which equals no stored one.

    A diff between stored rules and typed ones must not tell whether a typed password
    is the stored one (a guessing oracle): a rule with a typed password is always
    "changed … password entered", whatever was typed.
    """
    rule = parse_rule(entry.text)
    domain, _, rest = format_rule(rule, mask_password=True).partition(" ")
    server, _, tail = rest.partition(" ")
    user, _, host = server.partition(":" + PASSWORD_MASK + "@")
    text = " ".join(part for part in (domain, f"{user}:{ENTERED}@{host}", tail) if part)
    return replace(entry, text=text)


def _document_or_current(sender: MailSender, number: int) -> str:
    try:
        return document_at(sender, number)
    except Revision.DoesNotExist:
        return document_of(sender)
